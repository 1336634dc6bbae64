package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports (the kernel exports a
// fixed USER_HZ to user space whatever its internal HZ).
const clockTicks = 100

// procSample is what the kernel says about a process at one moment.
type procSample struct {
	CPU      time.Duration // user + system time since the process started
	PeakRSS  int64         // VmHWM: the resident set's high-water mark, bytes
	RSS      int64         // VmRSS now, bytes
	Threads  int
	Sampled  time.Time
	Readable bool
}

// sampleProc reads /proc/<pid>/stat and /proc/<pid>/status.
func sampleProc(pid int) (procSample, error) {
	s := procSample{Sampled: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.CPU, err = parseStatCPU(string(stat)); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	if err := parseStatus(bufio.NewScanner(f), &s); err != nil {
		return s, fmt.Errorf("/proc/%d/status: %w", pid, err)
	}
	s.Readable = true
	return s, nil
}

// parseStatCPU returns utime+stime (fields 14 and 15) of a stat line. The
// command name (field 2) is in parentheses and may contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	fields := strings.Fields(stat[end+1:]) // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(fields))
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("utime %q / stime %q are not numbers", fields[11], fields[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// parseStatus reads VmHWM, VmRSS and Threads ("VmHWM:   123456 kB").
func parseStatus(sc *bufio.Scanner, s *procSample) error {
	found := 0
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		switch key {
		case "VmHWM":
			s.PeakRSS, found = n<<10, found+1
		case "VmRSS":
			s.RSS, found = n<<10, found+1
		case "Threads":
			s.Threads = int(n)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if found < 2 {
		return fmt.Errorf("no VmHWM/VmRSS lines (a kernel thread or a zombie?)")
	}
	return nil
}
