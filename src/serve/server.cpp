#include "serve/server.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <random>

#include "core/log.h"
#include "generate/bundle.h"
#include "generate/candidate_files.h"
#include "serve/gallery.h"
#include "serve/http_message.h"
#include "serve/http_server.h"
#include "serve/prometheus.h"
#include "serve/studio_config.h"
#include "serve/web_page.h"
#include "text/prompt_parse.h"

namespace couture {
namespace {

using json = nlohmann::json;
constexpr const char* kIdPattern = "([0-9a-f]{16})";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// At most `max` bytes of `text`, cut at a UTF-8 character boundary, for messages that quote the client.
std::string clip(const std::string& text, size_t max = 120) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

void send_json(http::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(dump(body), "application/json");
}

void send_error(http::Response& res, int status, const std::string& message, const std::string& field = "") {
  json body = {{"error", message}};
  if (!field.empty()) body["field"] = field;
  send_json(res, status, body);
}

std::string lower(std::string text) {
  for (char& c : text) c = char(std::tolower(static_cast<unsigned char>(c)));
  return text;
}


// The host part of a Host header, lower case ("127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "[::1]"); "" when the
// header is malformed (a port that is not digits, text after "]").
std::string host_name(const std::string& header) {
  std::string host = header, port;
  if (!header.empty() && header[0] == '[') {
    const size_t close = header.find(']');
    if (close == std::string::npos) return "";
    host = header.substr(0, close + 1);
    const std::string rest = header.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return "";
    if (!rest.empty()) port = rest.substr(1);
  } else if (const size_t colon = header.find(':'); colon != std::string::npos) {
    host = header.substr(0, colon), port = header.substr(colon + 1);
  }
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) || port.size() > 5)
    return "";
  return lower(host);
}

// Equal, in a time that does not depend on where they differ.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(1, b.size())]);
  return diff == 0;
}

// The value of `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(const std::string& header, const std::string& name) {
  size_t at = 0;
  while (at < header.size()) {
    const size_t end = std::min(header.find(';', at), header.size());
    std::string pair = header.substr(at, end - at);
    pair.erase(0, pair.find_first_not_of(' '));
    if (pair.rfind(name + "=", 0) == 0) return pair.substr(name.size() + 1);
    at = end + 1;
  }
  return "";
}

}  // namespace

// Not a prefix test: 127.evil.example.com and 127.0.0.1.nip.io are names a DNS rebinding can point anywhere; an IPv4
// address counts only written as one (inet_pton: four decimal parts, nothing after).
bool is_loopback_host(const std::string& host) {
  const std::string h = lower(host);
  if (h == "localhost" || h == "::1" || h == "[::1]") return true;
  in_addr v4{};
  return ::inet_pton(AF_INET, h.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

void check_api_key(const std::string& key) {
  if (key.empty()) return;
  COUTURE_CHECK_INPUT(key.size() >= 16 && std::all_of(key.begin(), key.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '~' ||
                               c == '-';
                      }),
                      "--api-key must be at least 16 characters of letters, digits and . _ ~ - (got ", key.size(),
                      " characters)");
}

struct StudioServer::Impl {
  ServerOptions options;
  std::unique_ptr<Gallery> gallery;  // before the queue, whose worker stores into it
  JobQueue queue;
  SamplingDefaults defaults;  // the bundle's, read once from the generator's description
  AttributeValues attribute_values;  // likewise: what the bundle learnt, for the studio's pickers and captions
  std::unique_ptr<http::Server> http;
  std::thread thread;
  int port = -1;
  std::once_flag stop_once;
  std::atomic<bool> stopped{false};
  std::mutex seed_mutex;
  std::mt19937_64 seed_rng{std::random_device{}()};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  Impl(std::unique_ptr<Generator> generator, ServerOptions o)
      : options(std::move(o)),
        gallery(options.data_dir.empty() ? nullptr : std::make_unique<Gallery>(options.data_dir)),
        queue(std::move(generator), options.queue) {
    const json& model = queue.model();
    if (model.is_object() && model.contains("defaults")) defaults = SamplingDefaults::from_json(model["defaults"]);
    if (model.is_object() && model.contains("attribute_values"))
      attribute_values = read_attribute_values(model["attribute_values"], "the model's attribute_values");
    if (gallery)
      queue.set_done_listener([this](const std::string& id, const GenerateParams& params,
                                     const GenerateResult& result, const std::vector<JobResult>& results) {
        store(id, params, result, results);
      });
    configure();
    add_routes();
    queue.set_change_listener([server = http.get()] { server->wake(); });
  }

  void configure();
  void add_routes();
  // With an API key: whether the request carries it; if not, `res` says so (401). A browser opening /?key=KEY is
  // sent to / with the key in a cookie (HttpOnly, SameSite=Strict, this port's), so the page and its requests carry
  // it from then on.
  bool authorized(const http::Request& req, http::Response& res) {
    const std::string cookie = "couture_key_" + std::to_string(port);
    const std::string auth = req.header("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && same_secret(auth.substr(7), options.api_key)) return true;
    if (same_secret(cookie_value(req.header("Cookie"), cookie), options.api_key)) return true;
    if (req.path == "/" && req.query.rfind("key=", 0) == 0 && same_secret(req.query.substr(4), options.api_key)) {
      res.status = 303;
      res.set_header("Location", "/");
      res.set_header("Set-Cookie", cookie + "=" + options.api_key + "; Path=/; HttpOnly; SameSite=Strict");
      res.set_header("Cache-Control", "no-store");
      return false;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"couture\"");
    send_error(res, 401,
               "this studio needs its API key: send 'Authorization: Bearer KEY', or open /?key=KEY in a browser");
    return false;
  }
  void generate(const http::Request& req, http::Response& res);
  void events(const http::Request& req, http::Response& res);
  json job_json(const JobSnapshot& job) const;
  // The gallery: storing a finished job, its JSON (job_json's shape, plus created, favourite and the contact
  // sheet), GET /v1/jobs, PATCH /v1/jobs/{id}, and a job by id wherever it is.
  void store(const std::string& id, const GenerateParams& params, const GenerateResult& result,
             const std::vector<JobResult>& results);
  json saved_job_json(const json& record) const;
  void list_jobs(const http::Request& req, http::Response& res);
  void patch_job(const http::Request& req, http::Response& res);
  std::optional<json> find_job(const std::string& id) const;
  void delete_job(const std::string& id, http::Response& res);
  double uptime() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); }
  json http_stats() const {
    const auto s = http->stats();
    return {{"connections", s.connections},
            {"event_streams", s.streams},
            {"refused_connections", s.refused_connections},
            {"timed_out", s.timed_out},
            {"requests", s.requests}};
  }
  uint64_t random_seed() {
    std::lock_guard lock(seed_mutex);
    return seed_rng() >> 32;  // 32 bits: easy to read, type and share
  }
};

void StudioServer::Impl::configure() {
  http::Options o;
  o.max_body_bytes = options.max_body_bytes;
  o.max_upload_bytes = options.max_upload_bytes;
  o.is_upload = [](const http::Request& head) { return head.method == "POST" && head.path == "/v1/generate"; };
  o.request_timeout = options.io_timeout;
  o.max_per_client = options.max_connections_per_client;
  o.default_headers = {
      {"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}, {"X-Frame-Options", "DENY"}};

  // A page on another site must not drive a studio on this machine: browsers send that site's name as Host after
  // a DNS rebinding, so a loopback server answers only to loopback names and addresses, and to the names given
  // with --allow-host (exactly, case aside).
  bool loopback = is_loopback_host(options.host);
  std::vector<std::string> allowed;
  for (const auto& name : options.allowed_hosts) allowed.push_back(lower(name));
  o.pre_routing = [this, loopback, allowed](const http::Request& req, http::Response& res) {
    const std::string header = req.header("Host");
    const std::string host = host_name(header);
    const bool known = is_loopback_host(host) || std::find(allowed.begin(), allowed.end(), host) != allowed.end();
    if (loopback && !header.empty() && !known) {
      send_error(res, 403, "Host '" + clip(header, 60) + "' is not this server; open " + options.host + ":" +
                               std::to_string(port) + " directly (or start it with --allow-host NAME)");
      return true;
    }
    return !options.api_key.empty() && req.path != "/health" && !authorized(req, res);
  };
  // Every error answer is JSON, including the ones the HTTP layer makes itself (400, 404, 405, 408, 411, 413, 414,
  // 429 for too many connections, 431, 500).
  o.error_body = [](const http::Request&, http::Response& res, const std::string& message) {
    if (res.status >= 500) log::warn("server: " + message);
    send_error(res, res.status, message);
  };
  http = std::make_unique<http::Server>(std::move(o));
}

json StudioServer::Impl::job_json(const JobSnapshot& job) const {
  std::string base = "/v1/jobs/" + job.id;
  json j = {{"id", job.id},
            {"status", status_name(job.status)},
            {"url", base},
            {"events", base + "/events"},
            {"prompt", job.params.prompt},
            {"understood", parse_prompt(job.params.prompt).to_json()},
            {"settings", job.settings},
            {"progress", {{"stage", job.stage}, {"done", job.done}, {"total", job.total}, {"fraction", job.progress}}},
            {"queued_s", job.queued_s},
            {"run_s", job.run_s}};
  if (job.status == JobStatus::queued) j["queue_position"] = job.queue_position;
  if (!job.error.empty()) j["error"] = job.error;
  if (job.status == JobStatus::done) {
    json results = json::array();
    for (size_t rank = 0; rank < job.results.size(); ++rank) {
      const auto& r = job.results[rank];
      results.push_back({{"rank", rank},
                         {"index", r.index},
                         {"seed", r.seed},
                         {"score", r.score},
                         {"url", base + "/images/" + std::to_string(rank) + ".png"}});
      if (!r.attributes.empty()) results.back()["attributes"] = r.attributes;
    }
    j["results"] = results;
    j["timings"] = job.timings;
    j["caption"] = job.caption.empty() ? job.params.prompt : job.caption;
  }
  return j;
}

void StudioServer::Impl::store(const std::string& id, const GenerateParams& params, const GenerateResult& result,
                               const std::vector<JobResult>& results) {
  json candidates = json::array();
  std::vector<std::string> pngs;
  for (size_t rank = 0; rank < results.size(); ++rank) {
    const auto& r = results[rank];
    candidates.push_back(
        {{"rank", rank}, {"index", r.index}, {"seed", r.seed}, {"score", r.score}, {"codes", r.codes}});
    if (!r.attributes.empty()) candidates.back()["attributes"] = r.attributes;
    pngs.push_back(r.png);
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  json record = {{"id", id},
                 {"created", std::chrono::duration<double>(now).count()},
                 {"prompt", params.prompt},
                 {"understood", parse_prompt(params.prompt).to_json()},
                 {"caption", result.caption.empty() ? params.prompt : result.caption},
                 {"settings", params.settings_json()},
                 {"model", queue.model().value("name", "")},
                 {"results", candidates},
                 {"timings", result.timings.is_null() ? json::object() : result.timings}};
  gallery->add(record, pngs, encode_png(contact_sheet(result.candidates, params.top)));
}

json StudioServer::Impl::saved_job_json(const json& record) const {
  const std::string id = record.value("id", "");
  const std::string base = "/v1/jobs/" + id;
  json results = json::array();
  for (const auto& r : record.value("results", json::array())) {
    results.push_back({{"rank", r.value("rank", 0)},
                       {"index", r.value("index", 0)},
                       {"seed", r.value("seed", uint64_t(0))},
                       {"score", r.value("score", 0.0)},
                       {"url", base + "/images/" + std::to_string(r.value("rank", 0)) + ".png"}});
    if (r.contains("attributes")) results.back()["attributes"] = r["attributes"];
  }
  return {{"id", id},
          {"status", "done"},
          {"url", base},
          {"prompt", record.value("prompt", "")},
          {"understood", record.value("understood", json::object())},
          {"caption", record.value("caption", record.value("prompt", ""))},
          {"settings", record.value("settings", json::object())},
          {"progress", {{"stage", ""}, {"done", 1}, {"total", 1}, {"fraction", 1.0}}},
          {"created", record.value("created", 0.0)},
          {"favourite", record.value("favourite", false)},
          {"contact", base + "/contact.png"},
          {"results", results},
          {"timings", record.value("timings", json::object())}};
}

std::optional<json> StudioServer::Impl::find_job(const std::string& id) const {
  auto job = queue.get(id);
  if (job && job->status != JobStatus::done) return job_json(*job);
  if (gallery)
    if (auto record = gallery->get(id)) return saved_job_json(*record);
  if (job) return job_json(*job);
  return std::nullopt;
}

void StudioServer::Impl::delete_job(const std::string& id, http::Response& res) {
  // A job waiting or running is cancelled; a finished one is deleted, from the gallery and from memory.
  if (auto job = queue.get(id); job && !is_finished(job->status)) {
    queue.cancel(id);
    job = queue.get(id);
    return send_json(res, 200, job ? job_json(*job) : json{{"id", id}, {"status", "cancelled"}});
  }
  const bool removed = gallery && gallery->remove(id);
  if (!queue.forget(id) && !removed) return send_error(res, 404, "no job '" + id + "'");
  send_json(res, 200, {{"id", id}, {"deleted", true}});
}

void StudioServer::Impl::list_jobs(const http::Request& req, http::Response& res) {
  const auto fields = http::parse_query(req.query);
  if (!fields) return send_error(res, 400, "malformed query string (a bad %-escape)");
  GalleryQuery q;
  try {
    auto number = [](const std::string& name, const std::string& text, int64_t lo, int64_t hi) {
      size_t used = 0;
      int64_t v = 0;
      try {
        v = std::stoll(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != text.size() || v < lo || v > hi)
        throw FieldError(name, name + " must be a whole number from " + std::to_string(lo) + " to " +
                                   std::to_string(hi) + ", got '" + clip(text, 40) + "'");
      return v;
    };
    for (const auto& [name, value] : *fields) {
      if (name == "limit") q.limit = number(name, value, 1, 100);
      else if (name == "offset") q.offset = number(name, value, 0, int64_t(1) << 40);
      else if (name == "q" || name == "category" || name == "colour" || name == "print") {
        if (value.size() > 200) throw FieldError(name, name + " is longer than 200 bytes");
        (name == "q" ? q.text : name == "category" ? q.category : name == "colour" ? q.colour : q.print) = value;
      } else if (name == "favourite") {
        if (value != "true" && value != "false" && value != "1" && value != "0")
          throw FieldError(name, "favourite must be true or false, got '" + clip(value, 40) + "'");
        q.favourites = value == "true" || value == "1";
      } else {
        throw FieldError(name, "unknown field '" + clip(name, 40) +
                                   "' (known: q, category, colour, print, favourite, limit, offset)");
      }
    }
  } catch (const FieldError& e) {
    return send_error(res, 400, e.what(), e.field());
  }
  json active = json::array();
  for (const auto& job : queue.active()) active.push_back(job_json(job));
  json body = {{"gallery", gallery != nullptr}, {"total", 0}, {"limit", q.limit}, {"offset", q.offset},
               {"items", json::array()}, {"next", nullptr}, {"active", active}};
  if (gallery) {
    const GalleryPage page = gallery->list(q);
    body["total"] = page.total;
    for (const auto& record : page.items) body["items"].push_back(saved_job_json(record));
    if (q.offset + int64_t(page.items.size()) < page.total) {
      std::string next = "/v1/jobs?offset=" + std::to_string(q.offset + q.limit) + "&limit=" + std::to_string(q.limit);
      for (const auto& [name, value] : *fields)
        if (name != "offset" && name != "limit") next += "&" + name + "=" + http::percent_encode(value);
      body["next"] = next;
    }
  }
  send_json(res, 200, body);
}

void StudioServer::Impl::patch_job(const http::Request& req, http::Response& res) {
  const std::string id = req.matches[1];
  if (req.header("Content-Type").rfind("application/json", 0) != 0)
    return send_error(res, 415, "send the request as Content-Type: application/json");
  const json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return send_error(res, 400, "malformed JSON");
  if (!body.is_object() || body.size() != 1 || !body.contains("favourite") || !body["favourite"].is_boolean())
    return send_error(res, 400, "send {\"favourite\": true} or {\"favourite\": false}", "favourite");
  if (!gallery || !gallery->set_favourite(id, body["favourite"].get<bool>()))
    return send_error(res, 404, gallery ? "no finished job '" + id + "' in the gallery"
                                        : "this server keeps no gallery (start it with --data DIR)");
  send_json(res, 200, saved_job_json(*gallery->get(id)));
}

void StudioServer::Impl::generate(const http::Request& req, http::Response& res) {
  // JSON only: a form on another site cannot post JSON without the browser asking this server first (CORS),
  // and this server never says yes.
  std::string type = req.header("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    send_error(res, 415, "send the request as Content-Type: application/json");
    return;
  }
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::exception& e) {  // parse errors, and numbers too large for a double
    send_error(res, 400, "malformed JSON: " + clip(e.what(), 200));
    return;
  }
  try {
    if (body.is_object() && !body.contains("seed")) body["seed"] = random_seed();
    std::vector<int64_t> variation_codes;
    if (body.is_object() && body.contains("variation_of")) {
      // "Variations of this one": prime with the codes of a candidate this server made, by job id and rank.
      const json v = body["variation_of"];
      body.erase("variation_of");
      if (!v.is_object() || !v.contains("job") || !v["job"].is_string() || !v.contains("rank") ||
          !v["rank"].is_number_integer() || v.size() != 2)
        throw FieldError("variation_of", "variation_of must be {\"job\": \"<id>\", \"rank\": <integer>}");
      int64_t rank = v["rank"].is_number_unsigned() ? int64_t(std::min<uint64_t>(v["rank"].get<uint64_t>(), 1u << 20))
                                                    : v["rank"].get<int64_t>();
      auto codes = rank >= 0 ? queue.codes(v["job"].get<std::string>(), size_t(rank)) : std::nullopt;
      if (!codes && rank >= 0 && gallery)
        if (auto record = gallery->get(v["job"].get<std::string>()))
          if (record->contains("results") && size_t(rank) < (*record)["results"].size())
            codes = (*record)["results"][size_t(rank)].value("codes", std::vector<int64_t>{});
      if (!codes)
        throw FieldError("variation_of", "variation_of names no finished result (job '" +
                                             clip(v["job"].get<std::string>(), 40) + "', rank " +
                                             std::to_string(rank) + ")" +
                                             (gallery ? "" : "; without a gallery results are kept " +
                                                                 std::to_string(options.queue.keep_for.count() / 60) +
                                                                 " minutes"));
      if (codes->empty()) throw FieldError("variation_of", "this model gives no codes to vary");
      variation_codes = *codes;
    }
    // The bundle's sampling defaults (model.json "defaults") fill the fields a request leaves out.
    auto params = with_defaults(GenerateParams::from_json(body, /*validate=*/false), defaults,
                                [&](const std::string& field) { return body.contains(field); });
    if (!variation_codes.empty()) {
      if (!params.init_codes.empty()) throw FieldError("init_codes", "give init_codes or variation_of, not both");
      params.init_codes = std::move(variation_codes);
      params.validate();
    }
    auto submitted = queue.submit(params);
    auto job = queue.get(submitted.id);
    json reply = job ? job_json(*job) : json{{"id", submitted.id}, {"status", "queued"}};
    reply["queue_position"] = submitted.queue_position;
    res.set_header("Location", "/v1/jobs/" + submitted.id);
    send_json(res, 202, reply);
  } catch (const FieldError& e) {
    send_error(res, 400, e.what(), e.field());
  } catch (const InputError& e) {
    send_error(res, 400, e.what());
  } catch (const QueueFull& e) {
    res.set_header("Retry-After", "5");
    send_error(res, 429, e.what());
  } catch (const ShuttingDown& e) {
    send_error(res, 503, e.what());
  } catch (const json::exception& e) {
    send_error(res, 400, std::string("bad request: ") + clip(e.what(), 200));
  }
}

void StudioServer::Impl::events(const http::Request& req, http::Response& res) {
  std::string id = req.matches[1];
  if (!queue.get(id)) {
    send_error(res, 404, "no job '" + id + "' (it finished long ago, or never was)");
    return;
  }
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Accel-Buffering", "no");
  res.content_type = "text/event-stream";
  // One event per change of the job seen by the server's poll: "progress" while it waits or runs, then its final
  // status, then the end; a comment line when nothing changed for event_keepalive.
  using clock = std::chrono::steady_clock;
  res.stream = [this, id, keepalive = options.event_keepalive, seen = uint64_t(0),
                last = clock::now()](std::string& out) mutable {
    auto job = queue.get(id);
    if (!job) return false;
    const auto now = clock::now();
    if (job->version == seen) {
      // Shutting down: end once the job has its final status (sent before) or the queue has stopped; a running
      // job is still being cancelled until then, and its "cancelled" event must reach the client.
      if (queue.stopping() && (is_finished(job->status) || queue.stopped())) return false;
      if (now - last >= keepalive) out = ": keep-alive\n\n", last = now;
      return true;
    }
    seen = job->version, last = now;
    const bool final = is_finished(job->status);
    out = std::string("event: ") + (final ? status_name(job->status) : "progress") + "\ndata: " +
          dump(job_json(*job)) + "\n\n";
    return !final;
  };
}

void StudioServer::Impl::add_routes() {
  auto page = [](const char* type, std::string_view body, bool csp) {
    return [type, body, csp](const http::Request&, http::Response& res) {
      if (csp)
        res.set_header("Content-Security-Policy",
                       "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; base-uri 'none'");
      res.set_header("Cache-Control", "no-cache");
      res.set_content(std::string(body), type);
    };
  };
  http->route("GET", "/", page("text/html; charset=utf-8", studio_html(), true));
  http->route("GET", "/studio.js", page("text/javascript; charset=utf-8", studio_js(), false));
  http->route("GET", "/studio.css", page("text/css; charset=utf-8", studio_css(), false));
  http->route("GET", "/openapi.json", page("application/json", openapi_json(), false));
  http->route("GET", "/favicon.ico", [](const http::Request&, http::Response& res) { res.status = 204; });

  http->route("GET", "/metrics", [this](const http::Request&, http::Response& res) {
    res.set_header("Cache-Control", "no-store");
    json metrics = queue.metrics();
    if (gallery) metrics["gallery_jobs"] = gallery->size();
    res.set_content(prometheus_text(metrics, http->stats(), uptime()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  http->route("GET", "/health", [this](const http::Request&, http::Response& res) {
    bool stopping = queue.stopping();
    send_json(res, stopping ? 503 : 200,
              {{"status", stopping ? "stopping" : "ok"},
               {"model", queue.model()},
               {"queue", queue.stats()},
               {"limits", limits_json(options.max_body_bytes, options.max_upload_bytes)},
               {"http", http_stats()},
               {"uptime_s", uptime()}});
  });
  // Fixed for the server's life: built once.
  http->route("GET", "/v1/config",
              [config = studio_config(defaults, options.max_body_bytes, options.max_upload_bytes, attribute_values)](
                  const http::Request&, http::Response& res) { send_json(res, 200, config); });

  http->route("POST", "/v1/generate", [this](const http::Request& req, http::Response& res) { generate(req, res); });
  // What a prompt is read as (attributes, words not recognised, the caption written from them), for the studio to
  // show while the user types.
  http->route("POST", "/v1/understand", [this](const http::Request& req, http::Response& res) {
    if (req.header("Content-Type").rfind("application/json", 0) != 0)
      return send_error(res, 415, "send the request as Content-Type: application/json");
    try {
      const json body = json::parse(req.body);
      if (!body.is_object() || !body.contains("prompt") || body.size() != 1)
        throw FieldError("prompt", "send {\"prompt\": \"...\"}");
      GenerateParams p = GenerateParams::from_json(body);
      p.validate();
      const ParsedPrompt parsed = parse_prompt(p.prompt);
      json reply = parsed.to_json();
      // What prompt_as "understood" has the models read ("": the prompt as typed), as the generator writes it.
      reply["caption"] = understood_caption_for(parsed, attribute_values);
      send_json(res, 200, reply);
    } catch (const FieldError& e) {
      send_error(res, 400, e.what(), e.field());
    } catch (const InputError& e) {
      send_error(res, 400, e.what());
    } catch (const json::exception& e) {
      send_error(res, 400, "malformed JSON: " + clip(e.what(), 200));
    }
  });

  http->route("GET", "/v1/jobs", [this](const http::Request& req, http::Response& res) { list_jobs(req, res); });
  http->route("GET", std::string("/v1/jobs/") + kIdPattern, [this](const http::Request& req, http::Response& res) {
    auto job = find_job(req.matches[1]);
    if (!job) return send_error(res, 404, "no job '" + std::string(req.matches[1]) + "'");
    send_json(res, 200, *job);
  });
  http->route("DELETE", std::string("/v1/jobs/") + kIdPattern,
              [this](const http::Request& req, http::Response& res) { delete_job(req.matches[1], res); });
  http->route("PATCH", std::string("/v1/jobs/") + kIdPattern,
              [this](const http::Request& req, http::Response& res) { patch_job(req, res); });
  http->route("GET", std::string("/v1/jobs/") + kIdPattern + "/contact\\.png",
              [this](const http::Request& req, http::Response& res) {
                std::string id = req.matches[1];
                auto png = gallery ? gallery->contact_sheet(id) : std::nullopt;
                if (!png) return send_error(res, 404, "no contact sheet of job '" + id + "' in the gallery");
                res.set_header("Cache-Control", "private, max-age=3600, immutable");
                res.set_content(std::move(*png), "image/png");
              });
  http->route("GET", std::string("/v1/jobs/") + kIdPattern + "/events",
           [this](const http::Request& req, http::Response& res) { events(req, res); });
  http->route("GET", std::string("/v1/jobs/") + kIdPattern + "/images/([0-9]{1,3})\\.png",
           [this](const http::Request& req, http::Response& res) {
             std::string id = req.matches[1];
             size_t rank = std::stoul(req.matches[2]);
             auto png = queue.png(id, rank);
             if (!png && gallery) png = gallery->png(id, rank);
             if (!png) return send_error(res, 404, "no image " + std::to_string(rank) + " of job '" + id + "'");
             res.set_header("Cache-Control", "private, max-age=3600, immutable");
             res.set_header("Content-Disposition",
                            "inline; filename=\"couture-" + id + "-" + std::to_string(rank) + ".png\"");
             res.set_content(std::move(*png), "image/png");
           });
}

StudioServer::StudioServer(std::unique_ptr<Generator> generator, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(generator), std::move(options))) {}

StudioServer::~StudioServer() { stop(); }

int StudioServer::bind() {
  if (impl_->port >= 0) return impl_->port;
  const auto& o = impl_->options;
  std::string why;
  const int port = impl_->http->bind(o.host, o.port, why);
  COUTURE_CHECK_INPUT(port > 0, "cannot listen on ", o.host, ":", o.port, ": ", why,
                      " (the address is in use, not this machine's, or needs privileges)");
  impl_->port = port;
  return port;
}

void StudioServer::serve() {
  bind();
  if (!impl_->stopped) impl_->http->run();
}

void StudioServer::start() {
  bind();
  impl_->thread = std::thread([this] { impl_->http->run(); });
  for (int i = 0; i < 5000 && !impl_->http->running() && !impl_->stopped; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  COUTURE_CHECK(impl_->http->running(), "the server on ", url(), " did not start");
}

void StudioServer::stop() {
  std::call_once(impl_->stop_once, [this] {
    impl_->stopped = true;
    impl_->queue.shutdown();  // cancels the jobs; event streams send their final event and end
    impl_->queue.set_change_listener(nullptr);  // the HTTP server goes before the queue
    impl_->http->stop();      // no new connections; open answers and streams finish
    if (impl_->thread.joinable()) impl_->thread.join();
  });
}

int StudioServer::port() const { return impl_->port; }

std::string StudioServer::url() const {
  const std::string& h = impl_->options.host;
  std::string host = h.find(':') != std::string::npos ? "[" + h + "]" : h;
  return "http://" + host + ":" + std::to_string(impl_->port) + "/";
}

JobQueue& StudioServer::jobs() { return impl_->queue; }

Gallery* StudioServer::gallery() { return impl_->gallery.get(); }

}  // namespace couture
