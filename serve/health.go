package serve

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	pb "github.com/mdlc/mdlc/serve/inferencepb"
)

// The standard gRPC health service (grpc.health.v1.Health) beside the
// inference service, for what probes with it: Kubernetes' grpc liveness and
// readiness probes, grpc_health_probe, load balancers. It answers from the
// same readiness as /v2/health/ready: the service "" (or the inference
// service's own name) is SERVING once every model is loaded, and a model's
// name is SERVING once a version of it is ready; any other name is
// NOT_FOUND, as the health protocol asks.

// healthPoll is how often a Watch looks at readiness again; loading takes
// seconds, so a probe learns of it within one poll.
const healthPoll = 250 * time.Millisecond

type healthService struct {
	healthpb.UnimplementedHealthServer
	s *Server
}

// ready reports whether every model is loaded.
func (s *Server) ready() bool {
	for _, m := range s.models {
		if !m.Ready() {
			return false
		}
	}
	return true
}

// status is a service's health, or NOT_FOUND for a name that is neither the
// server's nor a model's.
func (h healthService) status(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	ready := false
	switch service {
	case "", pb.GRPCInferenceService_ServiceDesc.ServiceName:
		ready = h.s.ready()
	default:
		m, err := h.s.lookup(service, "")
		if err != nil {
			return 0, status.Errorf(codes.NotFound, "unknown service %q: ask for \"\" (the server) or a model's name", service)
		}
		ready = m.Ready()
	}
	if ready {
		return healthpb.HealthCheckResponse_SERVING, nil
	}
	return healthpb.HealthCheckResponse_NOT_SERVING, nil
}

func (h healthService) Check(_ context.Context, r *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, err := h.status(r.Service)
	if err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

func (h healthService) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	names := []string{""}
	for _, m := range h.s.models {
		names = append(names, m.Name)
	}
	for _, name := range names {
		st, err := h.status(name)
		if err != nil {
			return nil, err
		}
		out.Statuses[name] = &healthpb.HealthCheckResponse{Status: st}
	}
	return out, nil
}

// Watch sends the service's status, then each change, until the client
// goes or the server stops (NOT_SERVING, then the end of the stream). An unknown service is SERVICE_UNKNOWN, sent
// once, as the protocol asks (a model is never added while serving).
func (h healthService) Watch(r *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	st, err := h.status(r.Service)
	if err != nil {
		st = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	}
	if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
		return err
	}
	tick := time.NewTicker(healthPoll)
	defer tick.Stop()
	for {
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-h.s.stopping:
			return stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
		case <-tick.C:
		}
		now, err := h.status(r.Service)
		if err != nil || now == st {
			continue
		}
		st = now
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
			return err
		}
	}
}
