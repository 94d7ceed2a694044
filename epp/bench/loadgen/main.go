// extproc-loadgen drives an Endpoint Picker the way Envoy does with GIE's settings (request and
// response headers SEND, bodies FULL_DUPLEX_STREAMED): one bidi Process stream per request —
// request headers, body (end_of_stream), then once the EPP has answered the request path, the
// upstream's response headers and one response body chunk. It keeps -concurrency requests in
// flight for -seconds and prints one JSON line: requests/s, decision and whole-stream latency
// percentiles, destinations. Written in Go so that one core of load can saturate one core of EPP
// (a Node gRPC client cannot).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extproc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type result struct {
	Requests     int            `json:"requests"`
	Errors       int64          `json:"errors"`
	Seconds      float64        `json:"seconds"`
	PerSecond    float64        `json:"perSecond"`
	DecisionP50  float64        `json:"decisionP50"`
	DecisionP99  float64        `json:"decisionP99"`
	StreamP50    float64        `json:"streamP50"`
	StreamP99    float64        `json:"streamP99"`
	Destinations map[string]int `json:"destinations"`
}

func chatBody(size, i int) []byte {
	base := map[string]any{"model": "meta-llama/Llama-3.1-8B-Instruct", "max_tokens": 64, "stream": false,
		"messages": []map[string]string{{"role": "system", "content": ""}, {"role": "user", "content": fmt.Sprintf("request %d", i)}}}
	b, _ := json.Marshal(base)
	fill := strings.Repeat("The quick brown fox jumps over the lazy dog. ", size/45+1)
	if n := size - len(b); n > 0 {
		base["messages"].([]map[string]string)[0]["content"] = fill[:n]
	}
	b, _ = json.Marshal(base)
	return b
}

func hdr(k, v string) *core.HeaderValue { return &core.HeaderValue{Key: k, RawValue: []byte(v)} }

type sample struct {
	decision, stream float64
	dest             string
}

func main() {
	target := flag.String("target", "127.0.0.1:9002", "EPP ext_proc address")
	concurrency := flag.Int("concurrency", 64, "requests in flight")
	seconds := flag.Float64("seconds", 10, "measured duration")
	warmup := flag.Float64("warmup", 2, "unmeasured warm-up")
	bodyBytes := flag.Int("body-bytes", 4096, "request body size")
	conns := flag.Int("connections", 1, "gRPC connections (Envoy uses one per worker thread)")
	flag.Parse()

	clients := make([]extproc.ExternalProcessorClient, *conns)
	for i := range clients {
		cc, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer cc.Close()
		clients[i] = extproc.NewExternalProcessorClient(cc)
	}
	bodies := make([][]byte, 16)
	for i := range bodies {
		bodies[i] = chatBody(*bodyBytes, i)
	}
	respBody := []byte(`{"id":"x","model":"meta-llama/Llama-3.1-8B-Instruct","choices":[]}`)

	var measuring, stopping atomic.Bool
	var errors atomic.Int64
	var mu sync.Mutex
	samples := make([]sample, 0, 1<<20)

	one := func(client extproc.ExternalProcessorClient, i int) {
		t0 := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := client.Process(ctx)
		if err != nil {
			errors.Add(1)
			return
		}
		body := bodies[i%len(bodies)]
		s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestHeaders{RequestHeaders: &extproc.HttpHeaders{
			Headers: &core.HeaderMap{Headers: []*core.HeaderValue{hdr(":method", "POST"), hdr(":path", "/v1/chat/completions"),
				hdr(":authority", "gateway"), hdr("content-type", "application/json"), hdr("content-length", fmt.Sprint(len(body))),
				hdr("x-request-id", fmt.Sprintf("bench-%d", i))}}}}})
		s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestBody{RequestBody: &extproc.HttpBody{Body: body, EndOfStream: true}}})
		var tDecision time.Duration
		dest := ""
		for {
			r, err := s.Recv()
			if err != nil {
				errors.Add(1)
				return
			}
			switch m := r.Response.(type) {
			case *extproc.ProcessingResponse_ImmediateResponse:
				errors.Add(1)
				return
			case *extproc.ProcessingResponse_RequestHeaders:
				tDecision = time.Since(t0)
				for _, h := range m.RequestHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
					if h.GetHeader().GetKey() == "x-gateway-destination-endpoint" {
						dest = string(h.GetHeader().GetRawValue())
					}
				}
			case *extproc.ProcessingResponse_RequestBody:
				if m.RequestBody.GetResponse().GetBodyMutation().GetStreamedResponse().GetEndOfStream() {
					s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extproc.HttpHeaders{
						Headers: &core.HeaderMap{Headers: []*core.HeaderValue{hdr(":status", "200"), hdr("content-type", "application/json")}}}}})
					s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseBody{ResponseBody: &extproc.HttpBody{Body: respBody, EndOfStream: true}}})
				}
			case *extproc.ProcessingResponse_ResponseBody:
				if m.ResponseBody.GetResponse().GetBodyMutation().GetStreamedResponse().GetEndOfStream() {
					s.CloseSend()
					if measuring.Load() {
						mu.Lock()
						samples = append(samples, sample{float64(tDecision.Microseconds()) / 1000, float64(time.Since(t0).Microseconds()) / 1000, dest})
						mu.Unlock()
					}
					return
				}
			}
		}
	}

	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for !stopping.Load() {
				one(clients[w%len(clients)], int(seq.Add(1)))
			}
		}(w)
	}
	time.Sleep(time.Duration(*warmup * float64(time.Second)))
	errors.Store(0)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(time.Duration(*seconds * float64(time.Second)))
	measuring.Store(false)
	elapsed := time.Since(start).Seconds()
	stopping.Store(true)
	wg.Wait()

	res := result{Requests: len(samples), Errors: errors.Load(), Seconds: elapsed, PerSecond: float64(len(samples)) / elapsed, Destinations: map[string]int{}}
	d := make([]float64, len(samples))
	st := make([]float64, len(samples))
	for i, s := range samples {
		d[i], st[i] = s.decision, s.stream
		res.Destinations[s.dest]++
	}
	sort.Float64s(d)
	sort.Float64s(st)
	q := func(v []float64, p float64) float64 {
		if len(v) == 0 {
			return 0
		}
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	res.DecisionP50, res.DecisionP99, res.StreamP50, res.StreamP99 = q(d, 0.5), q(d, 0.99), q(st, 0.5), q(st, 0.99)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
