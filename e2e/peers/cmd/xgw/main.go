// xgw is a minimal stand-in for a gateway, to check a peer Endpoint Picker (llm-d's Go EPP) end to
// end on this machine: for each request it opens one ext_proc Process stream to the EPP the way
// Envoy does with GIE's settings (request headers, then the body with end_of_stream, both bodies
// FULL_DUPLEX_STREAMED), reads `x-gateway-destination-endpoint` from the request-headers reply,
// collects the (possibly mutated) streamed body, POSTs it to that endpoint over plain HTTP
// (--forward), and feeds the real response headers and body back through the stream so the EPP
// sees the completion. Without --forward it answers with a canned response instead (like
// extproc-loadgen). Loopback endpoints only.
//
// Workload: --groups G chat requests families; each request's system message is the family's
// long shared prefix (--prefix-words words) and its user message is unique, so a prefix-aware
// picker should keep each family on one endpoint. Prints one line per request (with -v) and a
// JSON summary: per-family destination counts, errors, latency.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extproc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

const destHeader = "x-gateway-destination-endpoint"

func hdr(k, v string) *core.HeaderValue { return &core.HeaderValue{Key: k, RawValue: []byte(v)} }

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " +
	"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")

func familyPrefix(g, n int) string {
	r := rand.New(rand.NewSource(int64(1000 + g)))
	var b strings.Builder
	fmt.Fprintf(&b, "You are assistant number %d.", g)
	for i := 0; i < n; i++ {
		b.WriteByte(' ')
		b.WriteString(words[r.Intn(len(words))])
	}
	return b.String()
}

type outcome struct {
	Seq     int     `json:"seq"`
	Group   int     `json:"group"`
	Dest    string  `json:"dest"`
	Status  int     `json:"status,omitempty"`
	Served  string  `json:"served,omitempty"` // X-Inference-Port of the simulator that answered
	Err     string  `json:"err,omitempty"`
	Decided float64 `json:"decisionMs"`
	Total   float64 `json:"totalMs"`
}

func isLoopback(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func one(client extproc.ExternalProcessorClient, httpc *http.Client, seq, group int, model, path string, body []byte, forward bool) outcome {
	o := outcome{Seq: seq, Group: group}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := client.Process(ctx)
	if err != nil {
		o.Err = err.Error()
		return o
	}
	_ = s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestHeaders{RequestHeaders: &extproc.HttpHeaders{
		Headers: &core.HeaderMap{Headers: []*core.HeaderValue{hdr(":method", "POST"), hdr(":path", path),
			hdr(":authority", "gateway"), hdr(":scheme", "http"), hdr("content-type", "application/json"),
			hdr("content-length", fmt.Sprint(len(body))), hdr("x-request-id", fmt.Sprintf("xgw-%d-%d", os.Getpid(), seq))}}}}})
	_ = s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_RequestBody{RequestBody: &extproc.HttpBody{Body: body, EndOfStream: true}}})

	var upstream bytes.Buffer
	bodyMutated := false
	for {
		r, err := s.Recv()
		if err != nil {
			o.Err = "recv: " + err.Error()
			return o
		}
		switch m := r.Response.(type) {
		case *extproc.ProcessingResponse_ImmediateResponse:
			o.Status = int(m.ImmediateResponse.GetStatus().GetCode())
			o.Err = "immediate response: " + string(m.ImmediateResponse.GetBody())
			return o
		case *extproc.ProcessingResponse_RequestHeaders:
			o.Decided = float64(time.Since(t0).Microseconds()) / 1000
			for _, h := range m.RequestHeaders.GetResponse().GetHeaderMutation().GetSetHeaders() {
				if h.GetHeader().GetKey() == destHeader {
					o.Dest = string(h.GetHeader().GetRawValue())
					if o.Dest == "" {
						o.Dest = h.GetHeader().GetValue()
					}
				}
			}
			continue
		case *extproc.ProcessingResponse_RequestBody:
			sr := m.RequestBody.GetResponse().GetBodyMutation().GetStreamedResponse()
			if sr == nil {
				if b := m.RequestBody.GetResponse().GetBodyMutation().GetBody(); b != nil {
					upstream.Write(b)
					bodyMutated = true
				}
				// Non-streamed (buffered) reply: treat as end of request body.
			} else {
				upstream.Write(sr.GetBody())
				bodyMutated = true
				if !sr.GetEndOfStream() {
					continue
				}
			}
		default:
			continue
		}
		break
	}
	if !bodyMutated {
		upstream.Write(body)
	}

	status, respHeaders, respBody := 200, map[string]string{"content-type": "application/json"}, []byte(`{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	if forward {
		dest := strings.Split(o.Dest, ",")[0]
		if !isLoopback(dest) {
			o.Err = "refusing non-loopback destination " + o.Dest
			return o
		}
		resp, err := httpc.Post("http://"+dest+path, "application/json", bytes.NewReader(upstream.Bytes()))
		if err != nil {
			o.Err = "upstream: " + err.Error()
			return o
		}
		respBody, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
		o.Served = resp.Header.Get("X-Inference-Port")
		respHeaders = map[string]string{"content-type": resp.Header.Get("Content-Type")}
	}
	o.Status = status
	hs := []*core.HeaderValue{hdr(":status", fmt.Sprint(status))}
	for k, v := range respHeaders {
		hs = append(hs, hdr(k, v))
	}
	_ = s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extproc.HttpHeaders{
		Headers: &core.HeaderMap{Headers: hs}}}})
	_ = s.Send(&extproc.ProcessingRequest{Request: &extproc.ProcessingRequest_ResponseBody{ResponseBody: &extproc.HttpBody{Body: respBody, EndOfStream: true}}})
	for {
		r, err := s.Recv()
		if err != nil {
			o.Err = "recv response phase: " + err.Error()
			return o
		}
		if rb, ok := r.Response.(*extproc.ProcessingResponse_ResponseBody); ok {
			sr := rb.ResponseBody.GetResponse().GetBodyMutation().GetStreamedResponse()
			if sr == nil || sr.GetEndOfStream() {
				break
			}
		}
		if _, ok := r.Response.(*extproc.ProcessingResponse_ImmediateResponse); ok {
			break
		}
	}
	_ = s.CloseSend()
	o.Total = float64(time.Since(t0).Microseconds()) / 1000
	if status != http.StatusOK {
		o.Err = fmt.Sprintf("upstream HTTP %d: %.200s", status, respBody)
	}
	return o
}

// viaDirect posts one request to a model server without asking the EPP.
func viaDirect(httpc *http.Client, dest string, seq, group int, path string, body []byte) outcome {
	o := outcome{Seq: seq, Group: group, Dest: dest}
	t0 := time.Now()
	resp, err := httpc.Post("http://"+dest+path, "application/json", bytes.NewReader(body))
	if err != nil {
		o.Err = err.Error()
		return o
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	o.Status = resp.StatusCode
	o.Served = resp.Header.Get("X-Inference-Port")
	if resp.StatusCode != http.StatusOK {
		o.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	o.Total = float64(time.Since(t0).Microseconds()) / 1000
	return o
}

func main() {
	target := flag.String("epp", "127.0.0.1:9002", "EPP ext_proc address (plaintext gRPC)")
	n := flag.Int("requests", 30, "requests to send")
	conc := flag.Int("concurrency", 3, "requests in flight")
	groups := flag.Int("groups", 3, "prompt families (shared system prompt per family)")
	prefixWords := flag.Int("prefix-words", 400, "words in each family's shared system prompt")
	model := flag.String("model", "meta-llama/Llama-3.1-8B-Instruct", "model name in the request body")
	maxTokens := flag.Int("max-tokens", 8, "max_tokens")
	forward := flag.Bool("forward", true, "forward each request to the picked endpoint (else canned response)")
	order := flag.String("order", "round-robin", "family order: round-robin | blocks (all of family 0, then 1, ...)")
	verbose := flag.Bool("v", false, "print one JSON line per request")
	familyOffset := flag.Int("family-offset", 0, "first family id (families are seeded by id, so the same id gives the same prefix)")
	direct := flag.String("direct", "", "send the requests straight to this loopback model server (no EPP), e.g. to warm its prefix cache")
	flag.Parse()

	cc, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer cc.Close()
	client := extproc.NewExternalProcessorClient(cc)
	httpc := &http.Client{Timeout: 60 * time.Second}

	prefixes := make([]string, *groups)
	for g := range prefixes {
		prefixes[g] = familyPrefix(g+*familyOffset, *prefixWords)
	}
	groupOf := func(i int) int {
		if *order == "blocks" {
			return i * *groups / *n
		}
		return i % *groups
	}
	if *direct != "" && !isLoopback(*direct) {
		fmt.Fprintln(os.Stderr, "--direct must be a loopback host:port")
		os.Exit(2)
	}

	jobs := make(chan int)
	results := make([]outcome, *n)
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				g := groupOf(i)
				body, _ := json.Marshal(map[string]any{"model": *model, "max_tokens": *maxTokens, "stream": false,
					"messages": []map[string]string{{"role": "system", "content": prefixes[g]},
						{"role": "user", "content": fmt.Sprintf("question %d for family %d: what is %d plus %d?", i, g, i, g)}}})
				if *direct != "" {
					results[i] = viaDirect(httpc, *direct, i, g, "/v1/chat/completions", body)
				} else {
					results[i] = one(client, httpc, i, g, *model, "/v1/chat/completions", body, *forward)
				}
				results[i].Group = g + *familyOffset
				if *verbose {
					b, _ := json.Marshal(results[i])
					fmt.Println(string(b))
				}
			}
		}()
	}
	start := time.Now()
	for i := 0; i < *n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	perGroup := map[string]map[string]int{}
	dests := map[string]int{}
	errs := 0
	mismatch := 0
	var dec []float64
	for _, r := range results {
		if r.Err != "" {
			errs++
			if errs <= 3 {
				fmt.Fprintln(os.Stderr, "error:", r.Err)
			}
		}
		if *forward && r.Err == "" && r.Served != "" && !strings.HasSuffix(r.Dest, ":"+r.Served) {
			mismatch++
		}
		k := fmt.Sprint(r.Group)
		if perGroup[k] == nil {
			perGroup[k] = map[string]int{}
		}
		perGroup[k][r.Dest]++
		dests[r.Dest]++
		dec = append(dec, r.Decided)
	}
	sort.Float64s(dec)
	q := func(p float64) float64 {
		if len(dec) == 0 {
			return 0
		}
		return dec[min(len(dec)-1, int(p*float64(len(dec))))]
	}
	out, _ := json.Marshal(map[string]any{"requests": *n, "errors": errs, "seconds": elapsed, "forwarded": *forward,
		"servedPortMismatch": mismatch, "decisionP50Ms": q(0.5), "decisionP99Ms": q(0.99),
		"destinations": dests, "perFamily": perGroup})
	fmt.Println(string(out))
	if errs > 0 {
		os.Exit(1)
	}
}
