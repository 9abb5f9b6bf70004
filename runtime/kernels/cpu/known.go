package cpu

// Known lists every kernel set mdlc has, whether or not this process can run
// it: a plan or a generated package may be built for another machine.
func Known() []Set { return []Set{AVX512, AVX2, NEON, Generic} }
