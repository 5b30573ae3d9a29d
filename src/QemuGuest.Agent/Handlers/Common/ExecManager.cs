using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Handlers.Common;

/// <summary>Which child streams are captured (guest-exec's capture-output resolved).</summary>
public enum CaptureMode
{
    None,
    Stdout,
    Stderr,
    Separated,
    Merged,
}

/// <summary>What to start.</summary>
public sealed record ExecRequest(
    string Path,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<string>? Environment,
    bool InheritEnvironment,
    byte[]? Input,
    CaptureMode Capture,
    string? WorkingDirectory,
    bool NewProcessGroup,
    bool StreamInput = false);

/// <summary>A started child as the platform launcher hands it over.</summary>
public abstract class LaunchedProcess
{
    public abstract long Pid { get; }

    /// <summary>Pipe to the child's stdin, when input data was given or input is streamed (write it, then dispose).</summary>
    public abstract Stream? Stdin { get; }

    /// <summary>Captured stdout (with Merged: stdout and stderr), or null.</summary>
    public abstract Stream? Stdout { get; }

    /// <summary>Captured stderr, or null.</summary>
    public abstract Stream? Stderr { get; }

    /// <summary>Blocks until the child ends: exit code, or the terminating signal.</summary>
    public abstract (long? ExitCode, long? Signal) WaitForExit();

    /// <summary>Signals the child (or its process group / job).</summary>
    public abstract void Kill(int signal, bool tree);
}

/// <summary>Starts children the platform's way (posix_spawn on Linux, CreateProcess on Windows).</summary>
public interface IProcessLauncher
{
    /// <summary>Throws <see cref="AgentCommandException"/> with the stock agent's text on failure.</summary>
    LaunchedProcess Launch(ExecRequest request);

    bool SupportsMerged { get; }
}

/// <summary>
/// guest-exec / guest-exec-status and the exec-start / exec-read / exec-kill extensions:
/// the table of running children (keyed by pid), their output pumps and waiters. A record is
/// forgotten after its first "exited" report.
/// </summary>
public sealed class ExecManager
{
    /// <summary>Per-stream cap for kept (not streamed) output: 16 MiB, like the stock agent.</summary>
    public const int MaxKeptOutputBytes = 16 * 1024 * 1024;

    /// <summary>The window a streamed child may run ahead of the client.</summary>
    public const int StreamWindowBytes = 4 * 1024 * 1024;

    public const int MaxReadBytes = 8 * 1024 * 1024;

    /// <summary>
    /// The stdin queue of a stream-input child: bounded like the output window, so a client
    /// that writes faster than the program reads is told to slow down (a short count) instead
    /// of growing the agent without end.
    /// </summary>
    public const int StreamInputWindowBytes = 4 * 1024 * 1024;

    private readonly ConcurrentDictionary<long, Child> _children = new();
    private readonly IProcessLauncher _launcher;

    public ExecManager(IProcessLauncher launcher)
    {
        _launcher = launcher;
    }

    public bool SupportsMerged => _launcher.SupportsMerged;

    public static CaptureMode ResolveCapture(GuestExecCaptureOutput? capture) => capture switch
    {
        null => CaptureMode.None,
        GuestExecCaptureOutput.FlagCase f => f.Value ? CaptureMode.Separated : CaptureMode.None,
        GuestExecCaptureOutput.ModeCase m => m.Value switch
        {
            GuestExecCaptureOutputMode.Stdout => CaptureMode.Stdout,
            GuestExecCaptureOutputMode.Stderr => CaptureMode.Stderr,
            GuestExecCaptureOutputMode.Separated => CaptureMode.Separated,
            GuestExecCaptureOutputMode.Merged => CaptureMode.Merged,
            _ => CaptureMode.None,
        },
        _ => CaptureMode.None,
    };

    public long Start(ExecRequest request, bool extended, bool streamed, long? timeoutMs)
    {
        if (request.Capture == CaptureMode.Merged && !_launcher.SupportsMerged)
        {
            throw new AgentCommandException("merged capture-output mode is not supported on this platform");
        }

        LaunchedProcess process = _launcher.Launch(request);
        var child = new Child(process, extended, streamed, request.StreamInput);
        _children[process.Pid] = child;
        child.Run(request.Input, timeoutMs);
        return process.Pid;
    }

    /// <summary>guest-exec-status.</summary>
    public GuestExecStatus Status(long pid)
    {
        if (!_children.TryGetValue(pid, out Child? child))
        {
            throw new AgentCommandException("Invalid parameter 'pid'");
        }

        if (!child.Finished)
        {
            return new GuestExecStatus(false);
        }

        _children.TryRemove(pid, out _);
        byte[]? outData = child.Out?.Take(-1);
        byte[]? errData = child.Err?.Take(-1);
        return new GuestExecStatus(true)
        {
            Exitcode = child.ExitCode,
            Signal = child.Signal,
            OutData = outData is { Length: > 0 } ? Convert.ToBase64String(outData) : null,
            ErrData = errData is { Length: > 0 } ? Convert.ToBase64String(errData) : null,
            // Like qemu-ga: a stream's truncated flag accompanies its data, true or false.
            OutTruncated = outData is { Length: > 0 } ? child.Out!.Truncated : null,
            ErrTruncated = errData is { Length: > 0 } ? child.Err!.Truncated : null,
        };
    }

    /// <summary>__com.qemuguest_guest-exec-read.</summary>
    public GuestExecOutput Read(long pid, long? maxBytes, long? waitMs)
    {
        if (!_children.TryGetValue(pid, out Child? child) || !child.Extended)
        {
            throw new AgentCommandException("Invalid parameter 'pid'");
        }

        long max = maxBytes ?? 1024 * 1024;
        if (max < 1)
        {
            throw new AgentCommandException("Parameter 'max-bytes' expects a value between 1 and " + MaxReadBytes);
        }

        long wait = waitMs ?? 0;
        if (wait < 0 || wait > 10000)
        {
            throw new AgentCommandException("Parameter 'wait-ms' expects a value between 0 and 10000");
        }

        int take = (int)Math.Min(max, MaxReadBytes);
        bool outputVisible = child.Streamed || child.Finished;
        if (wait > 0 && !child.Finished && (!outputVisible || (child.Out?.Available ?? 0) == 0 && (child.Err?.Available ?? 0) == 0))
        {
            child.WaitForActivity((int)wait);
            outputVisible = child.Streamed || child.Finished;
        }

        byte[]? outData = outputVisible ? child.Out?.Take(take) : null;
        byte[]? errData = outputVisible ? child.Err?.Take(take) : null;
        bool finished = child.Finished && (child.Out?.Available ?? 0) == 0 && (child.Err?.Available ?? 0) == 0;
        var result = new GuestExecOutput(finished)
        {
            OutData = outData is { Length: > 0 } ? Convert.ToBase64String(outData) : null,
            ErrData = errData is { Length: > 0 } ? Convert.ToBase64String(errData) : null,
        };
        if (finished)
        {
            _children.TryRemove(pid, out _);
            result = result with
            {
                Exitcode = child.ExitCode,
                Signal = child.Signal,
                TimedOut = child.TimedOut ? true : null,
                OutTruncated = child.Out is { Truncated: true } ? true : null,
                ErrTruncated = child.Err is { Truncated: true } ? true : null,
            };
        }

        return result;
    }

    /// <summary>__com.qemuguest_guest-exec-write: queues what fits, never waits for the child to read.</summary>
    public GuestExecWrite Write(long pid, ReadOnlySpan<byte> data, bool close)
    {
        if (!_children.TryGetValue(pid, out Child? child) || !child.Extended)
        {
            throw new AgentCommandException("Invalid parameter 'pid'");
        }

        if (child.Input is null)
        {
            throw new AgentCommandException("Program " + pid.ToString(CultureInfo.InvariantCulture) + " was not started with stream-input");
        }

        if (child.Exited)
        {
            throw new AgentCommandException("Program " + pid.ToString(CultureInfo.InvariantCulture) + " has exited; its standard input is gone");
        }

        var (taken, closed) = child.Input.Append(data, close);
        if (taken < 0)
        {
            throw new AgentCommandException(closed
                ? "Standard input of program " + pid.ToString(CultureInfo.InvariantCulture) + " is closed"
                : "Program " + pid.ToString(CultureInfo.InvariantCulture) + " closed its standard input");
        }

        return new GuestExecWrite(taken, closed);
    }

    /// <summary>__com.qemuguest_guest-exec-kill.</summary>
    public void Kill(long pid, long? signal, bool? tree)
    {
        if (!_children.TryGetValue(pid, out Child? child) || child.Exited)
        {
            throw new AgentCommandException("Invalid parameter 'pid'");
        }

        long sig = signal ?? 15;
        if (sig < 1 || sig > 64)
        {
            throw new AgentCommandException("Invalid parameter 'signal'");
        }

        if (tree == true && !child.Extended)
        {
            throw new AgentCommandException("tree is only supported for programs started by __com.qemuguest_guest-exec-start");
        }

        child.Process.Kill((int)sig, tree == true);
    }

    private sealed class Child
    {
        private readonly object _gate = new();
        private int _pendingPumps;
        private volatile bool _exited;

        public Child(LaunchedProcess process, bool extended, bool streamed, bool streamInput)
        {
            Process = process;
            Extended = extended;
            Streamed = streamed;
            if (streamInput && process.Stdin is not null)
            {
                Input = new ExecInputQueue(StreamInputWindowBytes);
            }

            int cap = streamed ? StreamWindowBytes : MaxKeptOutputBytes;
            if (process.Stdout is not null)
            {
                Out = new ExecOutputBuffer(cap, streamed, WakeReader);
            }

            if (process.Stderr is not null)
            {
                Err = new ExecOutputBuffer(cap, streamed, WakeReader);
            }
        }

        public LaunchedProcess Process { get; }

        public bool Extended { get; }

        public bool Streamed { get; }

        public ExecOutputBuffer? Out { get; }

        public ExecOutputBuffer? Err { get; }

        /// <summary>The stdin queue of a stream-input child, else null.</summary>
        public ExecInputQueue? Input { get; }

        public long? ExitCode { get; private set; }

        public long? Signal { get; private set; }

        public bool TimedOut { get; private set; }

        public bool Exited => _exited;

        /// <summary>The child exited and every captured pipe reached EOF.</summary>
        public bool Finished
        {
            get
            {
                lock (_gate)
                {
                    return _exited && _pendingPumps == 0;
                }
            }
        }

        public void Run(byte[]? input, long? timeoutMs)
        {
            if (Process.Stdin is Stream streamed && Input is ExecInputQueue queue)
            {
                if (input is { Length: > 0 })
                {
                    queue.Append(input, close: false, bounded: false);
                }

                StartThread(() => queue.Pump(streamed));
            }
            else if (Process.Stdin is Stream stdin)
            {
                StartThread(() =>
                {
                    try
                    {
                        if (input is { Length: > 0 })
                        {
                            stdin.Write(input, 0, input.Length);
                        }
                    }
                    catch (IOException)
                    {
                    }
                    finally
                    {
                        stdin.Dispose();
                    }
                });
            }

            if (Out is not null)
            {
                Pump(Out, Process.Stdout!);
            }

            if (Err is not null)
            {
                Pump(Err, Process.Stderr!);
            }

            StartThread(() =>
            {
                var (code, signal) = Process.WaitForExit();
                lock (_gate)
                {
                    ExitCode = code;
                    Signal = signal;
                    _exited = true;
                    Monitor.PulseAll(_gate);
                }

                // Nobody reads the queue any more: let its pump end and drop what is left.
                Input?.Abandon();
            });

            if (timeoutMs is long ms)
            {
                _ = Task.Delay(TimeSpan.FromMilliseconds(ms)).ContinueWith(
                    _ =>
                    {
                        if (!_exited)
                        {
                            TimedOut = true;
                            Process.Kill(9, tree: true);
                        }
                    },
                    TaskScheduler.Default);
            }
        }

        public void WaitForActivity(int timeoutMs)
        {
            var deadline = Environment.TickCount64 + timeoutMs;
            while (Environment.TickCount64 < deadline && !Finished)
            {
                // Checked under the gate WakeReader pulses, so output that comes between the check
                // and the wait is not missed; the wait's own bound stays as a backstop.
                lock (_gate)
                {
                    if (Streamed && ((Out?.Available ?? 0) > 0 || (Err?.Available ?? 0) > 0))
                    {
                        return;
                    }

                    Monitor.Wait(_gate, 20);
                }
            }
        }

        // Output arrived: an exec-read long-polling in WaitForActivity answers now, not at its next 20 ms slice.
        private void WakeReader()
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        }

        private void Pump(ExecOutputBuffer buffer, Stream source)
        {
            lock (_gate)
            {
                _pendingPumps++;
            }

            StartThread(() =>
            {
                try
                {
                    buffer.Pump(source);
                }
                finally
                {
                    source.Dispose();
                    lock (_gate)
                    {
                        _pendingPumps--;
                        Monitor.PulseAll(_gate);
                    }
                }
            });
        }

        private static void StartThread(Action action)
        {
            var t = new Thread(() => action()) { IsBackground = true, Name = "qga-exec" };
            t.Start();
        }
    }
}
