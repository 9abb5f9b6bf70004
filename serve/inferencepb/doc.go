// Package inferencepb holds the Go types and gRPC stubs of the Open
// Inference Protocol's gRPC form (inference.GRPCInferenceService), generated
// from inference.proto. The server is package serve; clients dial it with
// NewGRPCInferenceServiceClient.
//
// The generated files are committed, so building needs no protoc. To
// regenerate after editing inference.proto, install protoc (Debian:
// apt-get install protobuf-compiler) and the two plugins at the versions the
// files name,
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//
// then run go generate ./serve/inferencepb with them on PATH.
//
// The messages register under the protocol's names (inference.*), as KServe's
// and Triton's generated code does: a program that links this package and
// theirs at once gets protobuf's registration-conflict panic.
package inferencepb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative inference.proto
