//! Session usage: what each session's model calls cost so far (tokens, cache, model, cost in
//! micro-dollars), as its daemon reported it; summed per task and per project.
