/* llama-bench's tg loop in C, for benchmarks/tg_loop_ab.py (issue 17).
 *
 * The same work as venvsel's worker's Decoder.gen, per token: set the token and position in
 * the one-token batch, llama_decode, llama_synchronize. Called from Python with the worker's
 * own context and batch and llama.cpp's function pointers, so the only difference from the
 * worker's loop is the Python interpreter between the calls.
 *
 *   cc -O2 -shared -fPIC -o libtgloop.so benchmarks/tg_loop.c
 *
 * The struct is llama.h's llama_batch (vendored llama.cpp of llama-cpp-python 0.3.36).
 */
#include <stdint.h>
typedef struct llama_batch {
    int32_t n_tokens; int32_t *token; float *embd; int32_t *pos;
    int32_t *n_seq_id; int32_t **seq_id; int8_t *logits;
} llama_batch;
typedef int32_t (*decode_fn)(void *, llama_batch);
typedef void (*sync_fn)(void *);
int tg_loop(void *ctx, llama_batch *b, const int32_t *tokens, int n, int start,
            decode_fn decode, sync_fn sync) {
    b->n_tokens = 1;
    for (int i = 0; i < n; i++) {
        b->token[0] = tokens[i];
        b->pos[0] = start + i;
        if (decode(ctx, *b) != 0) return -1 - i;
        sync(ctx);
    }
    return 0;
}

/* llama-bench's own tg loop (tools/llama-bench/llama-bench.cpp, test_gen) through the
 * llama_batch_ext API of the vendored llama.cpp: per token, clear the batch, add the token
 * (sequence 0), set its position and ask for its logits, llama_process (DECODE), then
 * llama_synchronize. llama_decode, which the worker calls, turns its llama_batch into a new
 * llama_batch_ext on every call (llama_batch_compat). */
typedef void *(*ext_init_fn)(void *);
typedef void (*ext_void_fn)(void *);
typedef int32_t (*ext_add_token_fn)(void *, int32_t, int32_t);
typedef _Bool (*ext_set_pos_fn)(void *, int32_t, const int32_t *);
typedef _Bool (*ext_set_output_fn)(void *, int32_t, _Bool);
typedef int32_t (*process_fn)(void *, int, void *);
int tg_loop_ext(void *ctx, const int32_t *tokens, int n, int start, sync_fn sync,
                ext_init_fn init, ext_void_fn free_, ext_void_fn clear,
                ext_add_token_fn add_token, ext_set_pos_fn set_pos,
                ext_set_output_fn set_output, process_fn process) {
    void *batch = init(ctx);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        int32_t pos = start + i;
        clear(batch);
        int32_t idx = add_token(batch, 0, tokens[i]);
        set_pos(batch, idx, &pos);
        set_output(batch, idx, 1);
        if (process(ctx, 1 /* LLAMA_PROCESS_TYPE_DECODE */, batch) != 0) { rc = -1 - i; break; }
        sync(ctx);
    }
    free_(batch);
    return rc;
}
