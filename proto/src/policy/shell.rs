//! A Bash command split into simple commands (a chain `a && b; c | d` has four), with what
//! makes each unmatchable by an allow rule.
