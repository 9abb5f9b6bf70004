package main

func runRun(c *cli, args []string) error  { return nil }
func runInit(c *cli, args []string) error { return nil }
