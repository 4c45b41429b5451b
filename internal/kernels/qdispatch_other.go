//go:build !amd64 || purego

package kernels

func qbest() *qimpl { return qgeneric }

// useQAVX2 reports false: this build has no assembly kernels.
func useQAVX2() bool { return false }

// useQVNNI reports false: this build has no assembly kernels.
func useQVNNI() bool { return false }

func interleave4Fast(dst []byte, rows [4][]byte, x0, step, n int) int { return 0 }

// The assembly entry points never run in this build (qactive is generic).

func qgemmVNNI(rows int, p *qgemmArgs)  { qgemmGeneric(rows, p) }
func qgemmAVX2(rows int, p *qgemmArgs)  { qgemmGeneric(rows, p) }
func qdwVNNI(p *qdwArgs)                { qdwGeneric(p, 0) }
func qdwAVX2(p *qdwArgs)                { qdwGeneric(p, 0) }
func qaddAVX512(p *qaddArgs)            { qaddGeneric(p, 0) }
func qdwDirect1VNNI(p *qdwDirectArgs)   { panic("kernels: no AVX-512") }
func qdwDirect2VNNI(p *qdwDirectArgs)   { panic("kernels: no AVX-512") }
func qaddAVX2(p *qaddArgs)              { qaddGeneric(p, 0) }
func quantizeAVX512(p *qaddArgs)        { quantizeGeneric(p, 0) }
func quantizeAVX2(p *qaddArgs)          { quantizeGeneric(p, 0) }
func qpackQuads1VNNI(p *qpackArgs)      { panic("kernels: no AVX-512") }
func qpackQuads2VNNI(p *qpackArgs)      { panic("kernels: no AVX-512") }
func qdwDirect1K3VNNI(p *qdwDirectArgs) { panic("kernels: no AVX-512") }
func qdwDirect2K3VNNI(p *qdwDirectArgs) { panic("kernels: no AVX-512") }
func qdwDirect1K3Y(p *qdwDirectArgs)    { panic("kernels: no AVX-512") }
func qdwDirect2K3Y(p *qdwDirectArgs)    { panic("kernels: no AVX-512") }
func qdwFlatVNNI(p *qdwFlatArgs)        { panic("kernels: no AVX-512") }
func qgemmVNNIM(rows int, p *qgemmArgs) { panic("kernels: no AVX-512") }
