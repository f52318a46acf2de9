/* The tg loops tg_loop_ab.py compares with the worker's Python loop (issue 17).
 *
 * venvsel_tg_loop is the bench's own C loop (venvsel/bench/tgloop.c, included here): set
 * token and position in the one-token batch, llama_decode, llama_synchronize.
 * tg_loop_ext is llama-bench's loop through the llama_batch_ext API.
 *
 *   cc -O2 -shared -fPIC -o libtgloop.so benchmarks/tg_loop.c
 */
#include "../venvsel/bench/tgloop.c"

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
