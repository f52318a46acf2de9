/* venvsel bench's tg loop in C (issue 17).
 *
 * Per token it does what llama-bench's test_gen does and what the worker's Python loop
 * (Decoder.gen in _worker.py) does: set the token and its position in the one-token batch,
 * llama_decode, llama_synchronize. From Python, the interpreter between two tokens cost
 * 2-3 % of tg on models that run thousands of tokens a second (benchmarks/tg_loop_ab.py:
 * 5.6 us a token on a Xeon, 3-14 us on a 2-vCPU EPYC VM), which llama-bench, a C loop,
 * does not pay; this loop does not pay it either.
 *
 * Built by venvsel/bench/native.py with the machine's C compiler into venvsel's cache, and
 * loaded by the worker in the benched env, which passes llama.cpp's own function pointers:
 * nothing here links against llama.cpp. The struct is llama.h's llama_batch, unchanged
 * since llama.cpp introduced it (2023); the worker compares its size and field names with
 * llama_cpp's ctypes definition before using this loop, and runs the Python loop when they
 * differ.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct llama_batch {
    int32_t n_tokens;
    int32_t *token;
    float *embd;
    int32_t *pos;
    int32_t *n_seq_id;
    int32_t **seq_id;
    int8_t *logits;
} llama_batch;

typedef int32_t (*decode_fn)(void *ctx, llama_batch batch);
typedef void (*sync_fn)(void *ctx);

size_t venvsel_tgloop_batch_size(void) { return sizeof(llama_batch); }

/* n single-token decodes of tokens[0..n) at positions start.. on ctx through batch b, whose
 * n_seq_id[0], seq_id[0][0] and logits[0] the caller has set. sync may be NULL (a llama.cpp
 * without llama_synchronize). Returns 0, or -1 - i when llama_decode failed at token i. */
int venvsel_tg_loop(void *ctx, llama_batch *b, const int32_t *tokens, int n, int start,
                    decode_fn decode, sync_fn sync) {
    b->n_tokens = 1;
    for (int i = 0; i < n; i++) {
        b->token[0] = tokens[i];
        b->pos[0] = start + i;
        if (decode(ctx, *b) != 0) return -1 - i;
        if (sync) sync(ctx);
    }
    return 0;
}
