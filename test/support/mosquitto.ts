// The tests' mosquitto launcher is the one tools/ ships (check-moddable runs a broker too, and
// tools/ does not import test/): the same functions, under the name the tests have always used.
export * from "../../tools/mosquitto";
