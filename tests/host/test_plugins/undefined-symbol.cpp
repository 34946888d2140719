// A plugin library that needs a symbol nothing defines (as one built against another standard
// library ABI does): dlopen fails, and the host must report the loader's own error.
extern "C" int cxflow_test_symbol_nobody_defines();

extern "C" int undefined_symbol_marker() { return cxflow_test_symbol_nobody_defines(); }
