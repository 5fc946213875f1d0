//go:build !unix

package tool

import "os/exec"

// killGroupOnCancel keeps exec's default (kill the process) where process
// groups are not available; WaitDelay still bounds the wait for pipes.
func killGroupOnCancel(*exec.Cmd) {}
