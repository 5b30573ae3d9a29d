using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using QemuGuest.Protocol.Client;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// Runs Debian's qemu-ga on the host: <c>qemu-ga -m unix-listen -p DIR/qga.sock -t DIR/state -l DIR/qga.log</c>.
/// Missing qemu-ga is a failure, not a skip: CI installs it (apt-get install qemu-guest-agent).
/// </summary>
public sealed class QemuGaFixture : IDisposable
{
    private Process? _process;

    public QemuGaFixture()
    {
        Directory = Path.Combine(Path.GetTempPath(), "qgtest-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        System.IO.Directory.CreateDirectory(Directory);
        System.IO.Directory.CreateDirectory(StateDirectory);
        Start();
    }

    public string Directory { get; }

    public string SocketPath => Path.Combine(Directory, "qga.sock");

    public string StateDirectory => Path.Combine(Directory, "state");

    public string LogPath => Path.Combine(Directory, "qga.log");

    public string ConnectionString => "unix:" + SocketPath;

    public static string Executable
    {
        get
        {
            foreach (string candidate in new[] { "/usr/sbin/qemu-ga", "/usr/bin/qemu-ga", "/usr/local/bin/qemu-ga" })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            throw new InvalidOperationException("qemu-ga is not installed (apt-get install qemu-guest-agent); these tests need the real agent.");
        }
    }

    public int ProcessId => _process?.Id ?? 0;

    public GuestAgentClient CreateClient(GuestAgentClientOptions? options = null) =>
        new(ConnectionString, options ?? new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(20) });

    public void Start()
    {
        if (File.Exists(SocketPath))
        {
            File.Delete(SocketPath);
        }

        var info = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in new[] { "-m", "unix-listen", "-p", SocketPath, "-t", StateDirectory, "-l", LogPath })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("qemu-ga did not start");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"qemu-ga exited with {_process.ExitCode}: {_process.StandardError.ReadToEnd()} {ReadLog()}");
            }

            if (File.Exists(SocketPath))
            {
                try
                {
                    using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    probe.Connect(new UnixDomainSocketEndPoint(SocketPath));
                    return;
                }
                catch (SocketException)
                {
                }
            }

            if (clock.Elapsed > TimeSpan.FromSeconds(15))
            {
                throw new TimeoutException("qemu-ga did not create its socket within 15 s. " + ReadLog());
            }

            Thread.Sleep(20);
        }
    }

    public void Kill()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
    }

    public string ReadLog()
    {
        try
        {
            return File.Exists(LogPath) ? File.ReadAllText(LogPath) : string.Empty;
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }

    public void Dispose()
    {
        Kill();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Arguments given as a JSON object literal, for tests and raw cases.</summary>
public sealed class JsonArgs : IQgaArguments
{
    private readonly JsonDocument _document;

    public JsonArgs(string json) => _document = JsonDocument.Parse(json);

    public void WriteMembers(Utf8JsonWriter writer)
    {
        foreach (JsonProperty property in _document.RootElement.EnumerateObject())
        {
            property.WriteTo(writer);
        }
    }
}
