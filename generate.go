package softmax

// Regenerate the assembly kernels: go generate ./...
//go:generate go -C asm run ./amd64 -out ../softmax_amd64.s -stubs ../softmax_amd64.go -pkg softmax
//go:generate go -C asm run ./arm64 -out ../softmax_arm64.s -stubs ../softmax_arm64.go -pkg softmax
//go:generate go -C asm run ./forms -out ../internal/avxemu/forms/forms_amd64.s -stubs ../internal/avxemu/forms/forms_amd64.go
