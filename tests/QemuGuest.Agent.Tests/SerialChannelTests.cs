using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using QemuGuest.HostileAgent;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// The character-device channel, through a pseudo-terminal: the agent opens the pty slave
/// as its isa-serial port (and puts it in raw mode), the test plays the host on the master.
/// Covers the device code path (parser state kept, 0-byte reads, termios) that unix-listen
/// does not, for both agents.
/// </summary>
public sealed partial class SerialChannelTests
{
    [LibraryImport("libc", EntryPoint = "posix_openpt", SetLastError = true)]
    private static partial int PosixOpenpt(int flags);

    [LibraryImport("libc", EntryPoint = "grantpt", SetLastError = true)]
    private static partial int Grantpt(int fd);

    [LibraryImport("libc", EntryPoint = "unlockpt", SetLastError = true)]
    private static partial int Unlockpt(int fd);

    [LibraryImport("libc", EntryPoint = "ptsname_r", SetLastError = true)]
    private static unsafe partial int PtsnameR(int fd, byte* buf, nuint len);

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static unsafe partial int Tcgetattr(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static unsafe partial int Tcsetattr(int fd, int actions, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    private static unsafe partial void Cfmakeraw(byte* termios);

    /// <param name="zeroByteReads">
    /// VMIN = VTIME = 0 on the slave: every read with nothing to read returns 0 bytes at once,
    /// as a virtio-serial port does while its host side is closed.
    /// </param>
    private static unsafe (FileStream Master, string SlavePath) OpenPty(bool zeroByteReads = false)
    {
        int fd = PosixOpenpt(2 | 0x100); // O_RDWR | O_NOCTTY
        Assert.True(fd >= 0, "posix_openpt");
        Assert.Equal(0, Grantpt(fd));
        Assert.Equal(0, Unlockpt(fd));
        byte* name = stackalloc byte[128];
        Assert.Equal(0, PtsnameR(fd, name, 128));
        byte* termios = stackalloc byte[256];
        Tcgetattr(fd, termios);
        Cfmakeraw(termios);
        if (zeroByteReads)
        {
            // struct termios on Linux: four u32 flags, c_line, then c_cc (VTIME = 5, VMIN = 6).
            termios[17 + 5] = 0;
            termios[17 + 6] = 0;
        }

        Assert.Equal(0, Tcsetattr(fd, 0, termios));
        var master = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.ReadWrite, 1);
        return (master, Marshal.PtrToStringUTF8((IntPtr)name)!);
    }

    private static string ReadLine(FileStream master)
    {
        var line = new StringBuilder();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var buf = new byte[1];
        while (DateTime.UtcNow < deadline)
        {
            var read = master.ReadAsync(buf, 0, 1);
            if (!read.Wait(TimeSpan.FromSeconds(20)) || read.Result == 0)
            {
                break;
            }

            if (buf[0] == '\n')
            {
                return line.ToString();
            }

            line.Append((char)buf[0]);
        }

        throw new TimeoutException("no line from the agent; got: " + line);
    }

    /// <summary>Waits until the agent holds the pty slave open (and has set raw mode).</summary>
    private static void WaitUntilOpened(int pid, string slave)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                foreach (string fd in Directory.GetFiles("/proc/" + pid + "/fd"))
                {
                    if (new FileInfo(fd).LinkTarget == slave)
                    {
                        Thread.Sleep(200); // termios is set right after open
                        return;
                    }
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException("agent never opened " + slave);
    }

    [Theory]
    [InlineData(AgentKind.Ours)]
    [InlineData(AgentKind.Stock)]
    public void IsaSerialOverPty(AgentKind kind)
    {
        RunOnPty(kind, "isa-serial", zeroByteReads: false, (master, _) =>
        {
            byte[] request = Encoding.ASCII.GetBytes("\u00ff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":77}}");
            request[0] = 0xFF;
            master.Write(request);
            master.Flush();
            string first = ReadLine(master);
            Assert.Contains("stray", first);
            string second = ReadLine(master);
            Assert.Equal('\u00ff', second[0]);
            Assert.Contains("77", second);
            master.Write(Encoding.ASCII.GetBytes("{\"execute\":\"guest-ping\",\"id\":1}"));
            master.Flush();
            Assert.Contains("\"id\"", ReadLine(master));
        });
    }

    /// <summary>
    /// A bulk write whose host side stops sending, on a device that answers every read with 0
    /// bytes (a virtio-serial port whose host closed) or one whose reads block (its host still
    /// connected): the silence bound runs out either way, and the transfer ends with its named
    /// error instead of the agent staying in frame mode forever.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void BulkTransferTimesOutOnASilentDevice(bool zeroByteReads)
    {
        // zeroByteReads false: the host side stays connected and silent, so the agent's read
        // blocks in read(2), which no cancellation reaches; only a read bounded by poll() ends.
        RunOnPty(AgentKind.Ours, "virtio-serial", zeroByteReads, (master, dir) =>
        {
            Send(master, "{\"execute\":\"guest-file-open\",\"arguments\":{\"path\":" + System.Text.Json.JsonSerializer.Serialize(Path.Combine(dir, "silent.bin")) + ",\"mode\":\"w\"},\"id\":1}");
            using var opened = System.Text.Json.JsonDocument.Parse(ReadLine(master));
            long handle = opened.RootElement.GetProperty("return").GetInt64();
            Send(master, "{\"execute\":\"__com.qemuguest_guest-file-bulk\",\"arguments\":{\"handle\":" + handle + ",\"direction\":\"write\",\"count\":100000},\"id\":2}");
            Assert.Contains("max-frame-bytes", ReadLine(master));
            byte[] payload = new byte[1000];
            byte[] frame = new byte[QemuGuest.Protocol.Framing.BulkFrame.HeaderBytes + payload.Length];
            QemuGuest.Protocol.Framing.BulkFrame.WriteHeader(frame, payload, 0);
            master.Write(frame);
            master.Flush();

            // Silence from here on; the agent's reads all return 0 bytes.
            using var failed = System.Text.Json.JsonDocument.Parse(ReadLine(master));
            Assert.Equal(2, failed.RootElement.GetProperty("id").GetInt64());
            Assert.Contains("no frame for 2 s after 1000 of 100000 bytes", failed.RootElement.GetProperty("error").GetProperty("desc").GetString());
            Send(master, "{\"execute\":\"guest-ping\",\"id\":3}");
            Assert.Contains("\"return\"", ReadLine(master));
        });
    }

    /// <summary>Runs <paramref name="body"/> as the host of an agent whose device is a pty slave (method isa-serial or virtio-serial), with its state folder.</summary>
    private static void RunOnPty(AgentKind kind, string method, bool zeroByteReads, Action<FileStream, string> body)
    {
        var (master, slave) = OpenPty(zeroByteReads);
        string dir = Directory.CreateTempSubdirectory("qga-pty-").FullName;
        ProcessStartInfo psi = AgentProcess.Start(kind, "-m " + method + " -p " + slave + " -t " + dir);
        using Process p = Process.Start(psi)!;
        try
        {
            WaitUntilOpened(p.Id, slave);
            body(master, dir);
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(10000);
            }

            master.Dispose();
            Directory.Delete(dir, true);
        }
    }

    private static void Send(FileStream master, string json)
    {
        master.Write(Encoding.UTF8.GetBytes(json));
        master.Flush();
    }
}
