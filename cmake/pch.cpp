// Compiles the shared precompiled torch header once; every torch module reuses it.
