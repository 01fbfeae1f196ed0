// What create and exec hand to the processes they start (init.ts, exec-init.ts): the
// environment marker naming the plan file. Kept apart so the CLI side loads none of init's code.
export const OCI_INIT_ENV = "MINID_OCI_INIT";
export const OCI_EXEC_ENV = "MINID_OCI_EXEC";
