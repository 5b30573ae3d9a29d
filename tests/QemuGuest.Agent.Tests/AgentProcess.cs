using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// A real agent (<see cref="RealAgentProcess"/>) with a private state directory and one raw
/// socket connection to it. Every wait is bounded; the process is killed by pid on dispose.
/// </summary>
public sealed class AgentProcess : IDisposable
{
    public const string StockPath = RealAgentProcess.StockPath;
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(10);

    private readonly RealAgentProcess _process;
    private Socket? _socket;
    private readonly List<byte> _pending = new();

    public AgentProcess(AgentKind kind, string extraArgs = "", IDictionary<string, string>? environment = null, Action<string>? prepareStateDir = null, Func<ProcessStartInfo, ProcessStartInfo>? wrap = null)
    {
        Kind = kind;
        StateDir = Directory.CreateTempSubdirectory("qga-test-").FullName;
        prepareStateDir?.Invoke(StateDir);
        SocketPath = Path.Combine(StateDir, "sock");
        _process = RealAgentProcess.Start(kind, SocketPath, StateDir, Split(extraArgs), environment, workingDirectory: StateDir, wrap: wrap);
        Connect();
    }

    /// <summary>
    /// One raw connection to an agent started elsewhere (<see cref="WineAgent"/>), listening at
    /// <paramref name="socketPath"/>; <paramref name="stateDir"/> is removed on dispose.
    /// </summary>
    public AgentProcess(RealAgentProcess process, string stateDir, string socketPath)
    {
        Kind = process.Kind;
        StateDir = stateDir;
        SocketPath = socketPath;
        _process = process;
        Connect();
    }

    public AgentKind Kind { get; }

    public string StateDir { get; }

    public string SocketPath { get; }

    public int Pid => _process.Process.Id;

    /// <summary>The agent's output (standard error and output).</summary>
    public string Stderr => _process.Output;

    /// <summary>The agent's output once it holds <paramref name="text"/>, or after 30 s whatever it holds.</summary>
    public string WaitForStderr(string text)
    {
        _process.WaitForOutput(text, TimeSpan.FromSeconds(30));
        return Stderr;
    }

    /// <summary>The process to run for an agent with these arguments (also used for -D / -h runs).</summary>
    public static ProcessStartInfo Start(AgentKind kind, string args) => RealAgentProcess.StartInfo(kind, Split(args));

    private static string[] Split(string args) => args.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Runs an agent to completion (for -D, -h, bad options): (exit code, stdout, stderr).</summary>
    public static (int Code, string Stdout, string Stderr) RunToExit(AgentKind kind, string args, IDictionary<string, string>? environment = null)
    {
        var psi = Start(kind, args);
        if (environment is not null)
        {
            foreach (var kv in environment)
            {
                psi.Environment[kv.Key] = kv.Value;
            }
        }

        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            p.Kill(true);
            throw new TimeoutException("agent did not exit: " + args);
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public void Connect()
    {
        _socket?.Dispose();
        _pending.Clear();
        var deadline = DateTime.UtcNow + RealAgentProcess.StartTimeout;
        while (true)
        {
            _process.ThrowIfExited();

            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                s.Connect(new UnixDomainSocketEndPoint(SocketPath));
                s.ReceiveTimeout = (int)ReplyTimeout.TotalMilliseconds;
                _socket = s;
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                s.Dispose();
                Thread.Sleep(50);
            }
        }
    }

    /// <summary>Closes this fixture's connection (a unix-listen agent serves one client at a time).</summary>
    public void Disconnect()
    {
        _socket?.Dispose();
        _socket = null;
        _pending.Clear();
    }

    public void SendRaw(byte[] bytes) => _socket!.Send(bytes);

    public void Send(string json) => SendRaw(Encoding.UTF8.GetBytes(json));

    /// <summary>Sends one request and returns its reply (parsed).</summary>
    public JsonElement Execute(string json)
    {
        Send(json);
        return ReadReply();
    }

    /// <summary>Reads one '\n'-terminated reply, skipping a leading 0xFF. Bounded by the receive timeout.</summary>
    public JsonElement ReadReply() => JsonDocument.Parse(ReadLine(out _)).RootElement.Clone();

    /// <summary>
    /// Sends one request whose reply is tens of MiB and returns it parsed, waiting up to
    /// <paramref name="timeout"/> for all of it (a loaded machine moves such a reply slowly).
    /// </summary>
    public JsonElement ExecuteLarge(string json, TimeSpan timeout)
    {
        Send(json);
        _socket!.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            return JsonDocument.Parse(ReadLine(out _, timeout)).RootElement.Clone();
        }
        finally
        {
            _socket.ReceiveTimeout = (int)ReplyTimeout.TotalMilliseconds;
        }
    }

    public byte[] ReadLine(out bool delimited) => ReadLine(out delimited, ReplyTimeout);

    /// <summary>
    /// Sends <paramref name="input"/> followed by a guest-sync with <paramref name="syncId"/> and
    /// returns every reply before the sync's, in order: how many replies some input earns.
    /// </summary>
    public List<JsonElement> RepliesBeforeSync(byte[] input, long syncId, TimeSpan timeout)
    {
        SendRaw(input);
        Send("{\"execute\":\"guest-sync\",\"arguments\":{\"id\":" + syncId + "}}");
        var replies = new List<JsonElement>();
        var deadline = DateTime.UtcNow + timeout;
        _socket!.ReceiveTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            while (true)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                JsonElement reply = JsonDocument.Parse(ReadLine(out _, left > TimeSpan.Zero ? left : TimeSpan.Zero)).RootElement.Clone();
                if (reply.TryGetProperty("return", out JsonElement r) && r.ValueKind == JsonValueKind.Number && r.GetInt64() == syncId)
                {
                    return replies;
                }

                replies.Add(reply);
            }
        }
        finally
        {
            _socket.ReceiveTimeout = (int)ReplyTimeout.TotalMilliseconds;
        }
    }

    private byte[] ReadLine(out bool delimited, TimeSpan timeout)
    {
        delimited = false;
        var deadline = DateTime.UtcNow + timeout;
        int scanned = 0;
        while (true)
        {
            int nl = _pending.IndexOf((byte)'\n', scanned);
            if (nl >= 0)
            {
                byte[] line = _pending.GetRange(0, nl).ToArray();
                _pending.RemoveRange(0, nl + 1);
                if (line.Length > 0 && line[0] == 0xFF)
                {
                    delimited = true;
                    line = line.AsSpan(1).ToArray();
                }

                return line;
            }

            scanned = _pending.Count;
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(Kind + ": no reply; stderr: " + Stderr);
            }

            byte[] buf = new byte[1024 * 1024];
            int n = _socket!.Receive(buf);
            if (n == 0)
            {
                throw new IOException(Kind + ": connection closed");
            }

            _pending.AddRange(new ArraySegment<byte>(buf, 0, n));
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> raw bytes (bulk frames), bounded by the receive timeout.</summary>
    public byte[] ReadExactly(int count)
    {
        var deadline = DateTime.UtcNow + ReplyTimeout;
        byte[] buf = new byte[1024 * 1024];
        while (_pending.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(Kind + ": " + _pending.Count + " of " + count + " bytes; stderr: " + Stderr);
            }

            int n = _socket!.Receive(buf);
            if (n == 0)
            {
                throw new IOException(Kind + ": connection closed");
            }

            _pending.AddRange(new ArraySegment<byte>(buf, 0, n));
        }

        byte[] result = _pending.GetRange(0, count).ToArray();
        _pending.RemoveRange(0, count);
        return result;
    }

    /// <summary>Reads one raw byte (for the 0xFF resync test).</summary>
    public byte ReadByte()
    {
        if (_pending.Count > 0)
        {
            byte b = _pending[0];
            _pending.RemoveAt(0);
            return b;
        }

        byte[] one = new byte[1];
        if (_socket!.Receive(one) != 1)
        {
            throw new IOException("connection closed");
        }

        return one[0];
    }

    /// <summary>True when nothing arrives within <paramref name="ms"/> milliseconds.</summary>
    public bool IsQuiet(int ms)
    {
        if (_pending.Count > 0)
        {
            return false;
        }

        return !_socket!.Poll(ms * 1000, SelectMode.SelectRead);
    }

    public void Dispose()
    {
        _socket?.Dispose();
        _process.Dispose();
        try
        {
            Directory.Delete(StateDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
