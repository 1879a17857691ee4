// A bad command-line flag: the tools print its message on one line and exit with code 2.
export class UsageError extends Error {}
