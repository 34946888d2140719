// A shared object without a cxflow descriptor: the host must skip it with a warning.
extern "C" int not_a_cxflow_plugin() { return 42; }
