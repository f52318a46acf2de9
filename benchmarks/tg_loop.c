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
