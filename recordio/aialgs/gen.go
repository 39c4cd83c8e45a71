// Package aialgs holds the Go code generated from record.proto, SageMaker's
// aialgs.data Record schema as the Developer Guide prints it (in the
// compilable form of ../../docs/ARCHITECTURE.md). Regenerate with
// `go generate ./recordio/aialgs` (protoc and protoc-gen-go v1.36.12).
package aialgs

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Mrecord.proto=github.com/sagebrush-ml/sagebrush/recordio/aialgs record.proto
