/*
 * core/clock.h: monotonic time for elapsed-time measurements (latencies, migration timings).
 */
#ifndef LM_CORE_CLOCK_H
#define LM_CORE_CLOCK_H

/* Milliseconds on the monotonic clock (only differences are meaningful). */
double lm__now_ms(void);

#endif
