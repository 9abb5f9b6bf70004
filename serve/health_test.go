package serve

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// TestGRPCHealth: grpc.health.v1 follows readiness: NOT_SERVING while the
// models load, SERVING after, for the server ("" or the inference service's
// name) and for a model by name; an unknown name is NOT_FOUND; a watch sees
// the change.
func TestGRPCHealth(t *testing.T) {
	s := unloadedServer(t, "fashion_cnn")
	h := healthpb.NewHealthClient(serveGRPCConn(t, s))
	ctx := context.Background()
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		require.NoError(t, err, service)
		return r.Status
	}
	for _, name := range []string{"", "inference.GRPCInferenceService", "fashion_cnn"} {
		assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, check(name), name)
	}
	_, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	assert.Equal(t, codes.NotFound, status.Code(err))
	assert.Contains(t, status.Convert(err).Message(), `unknown service "nope"`)

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := h.Watch(wctx, &healthpb.HealthCheckRequest{Service: "fashion_cnn"})
	require.NoError(t, err)
	first, err := watch.Recv()
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, first.Status)

	require.NoError(t, s.Load())
	defer s.Close()
	next, err := watch.Recv()
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, next.Status, "the watch sees the model load")
	for _, name := range []string{"", "inference.GRPCInferenceService", "fashion_cnn"} {
		assert.Equal(t, healthpb.HealthCheckResponse_SERVING, check(name), name)
	}
	list, err := h.List(ctx, &healthpb.HealthListRequest{})
	require.NoError(t, err)
	require.Len(t, list.Statuses, 2)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, list.Statuses[""].Status)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, list.Statuses["fashion_cnn"].Status)

	unknown, err := h.Watch(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	require.NoError(t, err)
	u, err := unknown.Recv()
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_SERVICE_UNKNOWN, u.Status)
}

// TestStopEndsHealthWatch: a graceful stop is not held open by a health
// watch: the watcher is told NOT_SERVING and its stream ends.
func TestStopEndsHealthWatch(t *testing.T) {
	s, _ := newTestServer(t, DefaultOptions(), "fashion_cnn")
	gs, conn := listenGRPC(t, s)
	watch, err := healthpb.NewHealthClient(conn).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	first, err := watch.Recv()
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, first.Status)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.StopGRPC(ctx, gs), "stopped within the drain period, not cut short")
	last, err := watch.Recv()
	require.NoError(t, err)
	assert.Equal(t, healthpb.HealthCheckResponse_NOT_SERVING, last.Status)
	_, err = watch.Recv()
	assert.Equal(t, io.EOF, err, "the stream ends")
}
