#include "text/kfashion_labels.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "text/unicode.h"

namespace couture::kfashion {
namespace {

using utf8::nfc;
using utf8::trim;

using json = nlohmann::ordered_json;

// Label files are a few kilobytes (tens with polygons); anything far larger is not a label file.
constexpr size_t kMaxLabelBytes = 16u << 20;

// The vocabularies of AIHub's K-Fashion labels, with the spelling variants that occur in the real files
// (노말/노멀, 래깅스/레깅스, 자켓/재킷, 짚업/집업, 하운즈 투스/하운즈투스, 홀토넥/홀터넥, 테일러칼라/테일러드칼라).
const std::map<std::string, std::vector<std::string>, std::less<>>& vocabularies() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> v = {
      {"카테고리",
       {"탑", "블라우스", "티셔츠", "니트웨어", "셔츠", "브라탑", "후드티",  // 상의
        "청바지", "팬츠", "스커트", "래깅스", "레깅스", "조거팬츠",         // 하의
        "코트", "재킷", "자켓", "점퍼", "패딩", "베스트", "가디건", "짚업", "집업",  // 아우터
        "드레스", "점프수트"}},                                             // 원피스
      {"색상",
       {"블랙", "화이트", "그레이", "레드", "핑크", "오렌지", "베이지", "브라운", "옐로우", "그린", "카키", "민트",
        "블루", "네이비", "스카이블루", "퍼플", "라벤더", "와인", "네온", "골드", "실버"}},
      {"프린트",
       {"무지", "체크", "스트라이프", "도트", "플로럴", "레터링", "그래픽", "해골", "타이다이", "지브라", "호피",
        "카무플라쥬", "페이즐리", "하운즈 투스", "하운즈투스", "아가일", "깅엄", "지그재그", "그라데이션", "믹스"}},
      {"기장", {"크롭", "노멀", "노말", "하프", "롱", "미니", "니렝스", "미디", "발목", "맥시"}},
      {"소매기장", {"없음", "민소매", "반팔", "캡", "7부소매", "긴팔"}},
      {"소재",
       {"패딩", "퍼", "무스탕", "스웨이드", "앙고라", "코듀로이", "시퀸/글리터", "데님", "저지", "트위드", "벨벳",
        "비닐/PVC", "울/캐시미어", "울", "합성섬유", "헤어 니트", "니트", "레이스", "린넨", "메시", "플리스",
        "네오프렌", "실크", "스판덱스", "자카드", "가죽", "면", "시폰", "우븐"}},
      {"디테일",
       {"비즈", "퍼트리밍", "단추", "글리터", "니트꽈배기", "체인", "컷오프", "더블브레스티드", "드롭숄더", "자수",
        "프릴", "프린지", "플레어", "퀼팅", "리본", "롤업", "러플", "셔링", "슬릿", "스팽글", "스티치", "스터드",
        "폼폼", "포켓", "패치워크", "페플럼", "플리츠", "집업", "디스트로이드", "드롭웨이스트", "버클", "컷아웃",
        "X스트랩", "비대칭", "레이스", "레이스업", "스트링", "띠"}},
      {"넥라인",
       {"라운드넥", "유넥", "브이넥", "홀터넥", "홀토넥", "오프숄더", "원 숄더", "스퀘어넥", "노카라", "후드",
        "터틀넥", "보트넥", "스위트하트"}},
      {"칼라",
       {"셔츠칼라", "보우칼라", "세일러칼라", "숄칼라", "폴로칼라", "피터팬칼라", "너치드칼라", "차이나칼라",
        "테일러칼라", "테일러드칼라", "밴드칼라"}},
      {"핏", {"노멀", "노말", "루즈", "오버사이즈", "스키니", "와이드", "타이트", "벨보텀"}},
      {"스타일",
       {"클래식", "프레피", "매니시", "톰보이", "페미닌", "로맨틱", "섹시", "히피", "웨스턴", "오리엔탈", "모던",
        "소피스트케이티드", "아방가르드", "컨트리", "리조트", "젠더리스", "스포티", "레트로", "키치", "힙합",
        "펑크", "밀리터리", "스트리트", "기타"}},
  };
  return v;
}

// Attributes that share another's vocabulary.
std::string_view vocabulary_name(std::string_view attribute) {
  if (attribute == "서브색상") return "색상";
  if (attribute == "옷깃") return "칼라";
  if (attribute == "서브스타일") return "스타일";
  return attribute;
}

std::string clean(const std::string& s) { return nfc(trim(s)); }

const json* member(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::optional<double> number(const json* value) {
  if (!value) return std::nullopt;
  double v;
  if (value->is_number()) {
    v = value->get<double>();
  } else if (value->is_string()) {
    const std::string& s = value->get_ref<const std::string&>();
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

// A part's entry: K-Fashion writes a list of one object (`[{}]` when absent); a bare object is accepted too.
const json* part_object(const json& entry, const std::string& where) {
  if (entry.is_object()) return &entry;
  if (entry.is_null()) return nullptr;
  if (!entry.is_array()) throw LabelError(kMalformedLabel, where + " is neither a list nor an object");
  for (const auto& item : entry) {
    if (!item.is_object()) throw LabelError(kMalformedLabel, where + " holds a " + item.type_name() + ", not an object");
    if (!item.empty()) return &item;
  }
  return nullptr;
}

std::vector<std::string> values_of(const json& value, const std::string& where) {
  std::vector<std::string> out;
  auto add = [&](const json& v) {
    if (v.is_null()) return;
    if (!v.is_string()) throw LabelError(kMalformedLabel, where + " is a " + v.type_name() + ", expected text");
    std::string s = clean(v.get<std::string>());
    if (!s.empty()) out.push_back(std::move(s));
  };
  if (value.is_array()) {
    for (const auto& v : value) add(v);
  } else {
    add(value);
  }
  return out;
}

Part parse_part(const std::string& name, const json& entry, const ParseOptions& options, Label& label) {
  Part part{name, {}, std::nullopt};
  const json* object = part_object(entry, "라벨링." + name);
  if (!object) return part;
  for (const auto& [key, value] : object->items()) {
    std::string attr = clean(key);
    std::string where = name + " " + attr;
    if (!is_known_attribute(attr)) {
      label.notes.push_back("ignored attribute " + where);
      continue;
    }
    Attribute a{attr, values_of(value, "라벨링." + name + "." + attr), is_list_attribute(attr)};
    for (const auto& v : a.values) {
      if (is_known_value(attr, v)) continue;
      if (is_checked_attribute(attr) && !options.keep_unknown_values)
        throw LabelError(kUnknownValue, where + " '" + v + "'");
      label.notes.push_back("unknown value " + where + " '" + v + "'");
    }
    if (!a.values.empty()) part.attributes.push_back(std::move(a));
  }
  return part;
}

std::optional<Rect> parse_rect(const json& rects, const std::string& part, Label& label) {
  const json* entry = member(rects, part.c_str());
  if (!entry) return std::nullopt;
  const json* object = nullptr;
  try {
    object = part_object(*entry, "렉트좌표." + part);
  } catch (const LabelError&) {
  }
  if (!object) return std::nullopt;
  auto x = number(member(*object, "X좌표")), y = number(member(*object, "Y좌표"));
  auto w = number(member(*object, "가로")), h = number(member(*object, "세로"));
  if (!x || !y || !w || !h) {
    label.notes.push_back("unreadable rectangle " + part);
    return std::nullopt;
  }
  return Rect{*x, *y, *w, *h};
}

}  // namespace

const Attribute* Part::find(std::string_view attribute) const {
  for (const auto& a : attributes)
    if (a.name == attribute) return &a;
  return nullptr;
}

std::string Part::first_value(std::string_view attribute) const {
  const Attribute* a = find(attribute);
  return a && !a->values.empty() ? a->values.front() : "";
}

bool Part::is_style() const { return name == "스타일"; }

const Part* Label::find(std::string_view part) const {
  for (const auto& p : parts)
    if (p.name == part) return &p;
  return nullptr;
}

bool is_valid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t left = utf8proc_ssize_t(text.size());
  while (left > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0 || cp < 0) return false;
    p += n;
    left -= n;
  }
  return true;
}

const std::vector<std::string>& known_parts() {
  static const std::vector<std::string> parts = {"스타일", "아우터", "하의", "원피스", "상의"};
  return parts;
}

bool is_known_attribute(std::string_view a) {
  static const std::vector<std::string_view> known = {"기장", "색상", "서브색상", "카테고리", "디테일", "소매기장",
                                                      "소재", "프린트", "넥라인", "칼라", "옷깃", "핏",
                                                      "스타일", "서브스타일"};
  return std::find(known.begin(), known.end(), a) != known.end();
}

bool is_list_attribute(std::string_view a) { return a == "디테일" || a == "소재" || a == "프린트"; }

bool is_checked_attribute(std::string_view a) {
  return a == "카테고리" || a == "색상" || a == "서브색상" || a == "프린트";
}

const std::vector<std::string>& known_values(std::string_view attribute) {
  static const std::vector<std::string> none;
  const auto& v = vocabularies();
  auto it = v.find(vocabulary_name(attribute));
  return it == v.end() ? none : it->second;
}

bool is_known_value(std::string_view attribute, std::string_view value) {
  const auto& values = known_values(attribute);
  return std::find(values.begin(), values.end(), value) != values.end();
}

Label parse_label(std::string_view bytes, const ParseOptions& options) {
  if (bytes.size() > kMaxLabelBytes)
    throw LabelError(kMalformedJson, "file of " + std::to_string(bytes.size()) + " bytes is too large for a label");
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  if (!is_valid_utf8(bytes)) throw LabelError(kNonUtf8, "the file is not valid UTF-8 (K-Fashion labels are UTF-8)");
  json root = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) throw LabelError(kMalformedJson, "the file does not parse as JSON");
  if (!root.is_object()) throw LabelError(kMalformedJson, "the top level is not an object");

  Label label;
  if (const json* info = member(root, "이미지 정보")) {
    if (const json* name = member(*info, "이미지 파일명"); name && name->is_string())
      label.image_file = clean(name->get<std::string>());
    if (const json* id = member(*info, "이미지 식별자")) {
      if (id->is_string()) label.image_id = clean(id->get<std::string>());
      if (id->is_number_integer()) label.image_id = std::to_string(id->get<int64_t>());
    }
    auto side = [&](const char* key) {
      auto v = number(member(*info, key));
      return v && *v > 0 && *v < 1e6 ? int(*v) : 0;
    };
    label.width = side("이미지 너비");
    label.height = side("이미지 높이");
  }

  const json* details = nullptr;
  if (const json* dataset = member(root, "데이터셋 정보")) details = member(*dataset, "데이터셋 상세설명");
  const json* labelling = details ? member(*details, "라벨링") : nullptr;
  if (!labelling || !labelling->is_object())
    throw LabelError(kMissingLabels, "no object at 데이터셋 정보 / 데이터셋 상세설명 / 라벨링");
  static const json no_rects = json::object();
  const json* rects = member(*details, "렉트좌표");
  if (!rects || !rects->is_object()) rects = &no_rects;

  const auto& parts = known_parts();
  for (const auto& [key, entry] : labelling->items()) {
    std::string name = clean(key);
    if (std::find(parts.begin(), parts.end(), name) == parts.end()) {
      label.notes.push_back("ignored part " + name);
      continue;
    }
    if (label.find(name)) continue;  // a repeated key (possible after NFC) keeps the first
    Part part = parse_part(name, entry, options, label);
    if (!part.is_style()) part.rect = parse_rect(*rects, name, label);
    label.parts.push_back(std::move(part));
  }
  if (label.parts.empty()) throw LabelError(kMissingLabels, "라벨링 holds none of the parts 스타일, 아우터, 하의, 원피스, 상의");
  return label;
}

}  // namespace couture::kfashion
