"""The Kconfig engine: kconfiglib taught current Linux syntax and value rules, compiler probes
answered from a config or run, trees parsed once and cached, configs written byte-exact."""
