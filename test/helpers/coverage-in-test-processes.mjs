// Loaded into every test process after tap's coverage hook (package.json, tap.node-arg).
// Processes a test starts (the CLI, worker processes, beat) run the sources through tsx, whose
// transpiled code does not line up with tap's: merged into the report, their coverage of a
// file could replace whole modules by one statement, and which process won the merge changed
// from run to run (81 % to 96 % of statements on the same code; a run under a threshold fails
// CI with every test passed). Coverage is therefore what the test processes themselves run.
process.env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
