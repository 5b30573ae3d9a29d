using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using QemuGuest.Agent.Core;

namespace QemuGuest.Agent.Platform.Linux;

/// <summary>
/// The side effects of the dangerous Linux commands, behind one seam so tests run them
/// against a fake and never on the real machine: power, clock, passwords, filesystem
/// freeze/thaw/trim and sysfs writes (vCPU and memory-block hotplug).
/// </summary>
public interface ISystemActions
{
    /// <summary>Runs shutdown(8) with -H, -P or -r.</summary>
    void Shutdown(string flag);

    /// <summary>Writes "disk" / "mem" to /sys/power/state (hybrid: "suspend" to /sys/power/disk first).</summary>
    void Suspend(string mode);

    /// <summary>clock_settime(CLOCK_REALTIME) when given, then syncs the RTC (hwclock -w / -s).</summary>
    void SetTime(long? nanoseconds);

    /// <summary>chpasswd(8), with -e for a crypted password.</summary>
    void SetPassword(string user, string password, bool crypted);

    /// <summary>FIFREEZE on a mount point; returns 0 or an errno.</summary>
    int Freeze(string mountpoint);

    /// <summary>FITHAW on a mount point; returns 0 or an errno.</summary>
    int Thaw(string mountpoint);

    /// <summary>FITRIM; returns (errno, bytes trimmed).</summary>
    (int Errno, ulong Trimmed) Trim(string mountpoint, ulong minimum);

    /// <summary>Writes a sysfs attribute; returns 0 or an errno.</summary>
    int WriteSysfs(string path, string value);

    /// <summary>Runs the fsfreeze hook with "freeze" or "thaw"; returns its exit status.</summary>
    int RunHook(string hook, string argument);
}

/// <summary>Where the Linux handlers look (procfs, sysfs, utmp) and what they do.</summary>
[SupportedOSPlatform("linux")]
public sealed class LinuxSystem
{
    public string ProcRoot { get; init; } = "/proc";

    public string SysRoot { get; init; } = "/sys";

    public string UtmpPath { get; init; } = "/var/run/utmp";

    public ISystemActions Actions { get; init; } = new RealSystemActions();

    /// <summary>getpwnam: (home, uid, gid), or null with the errno text when absent.</summary>
    public Func<string, (string Home, uint Uid, uint Gid)?> LookupUser { get; init; } = LibcUsers.Lookup;

    /// <summary>The os-release file: $QGA_OS_RELEASE (like QEMU's test hook), /etc/os-release, /usr/lib/os-release.</summary>
    public Func<string?> OsReleasePath { get; init; } = DefaultOsRelease;

    public static LinuxSystem Real { get; } = new();

    private static string? DefaultOsRelease()
    {
        string? overridePath = Environment.GetEnvironmentVariable("QGA_OS_RELEASE");
        if (!string.IsNullOrEmpty(overridePath))
        {
            return overridePath;
        }

        return File.Exists("/etc/os-release") ? "/etc/os-release" : File.Exists("/usr/lib/os-release") ? "/usr/lib/os-release" : null;
    }
}

[SupportedOSPlatform("linux")]
internal static unsafe class LibcUsers
{
    public static (string Home, uint Uid, uint Gid)? Lookup(string name)
    {
        byte* buf = stackalloc byte[16384];
        int rc = Libc.GetpwnamR(name, out Libc.Passwd pwd, buf, 16384, out Libc.Passwd* result);
        if (rc != 0 || result is null)
        {
            return null;
        }

        return (Libc.PtrToString(pwd.Dir) ?? "/", pwd.Uid, pwd.Gid);
    }
}

/// <summary>The real side effects. Never exercised by the test suite.</summary>
[SupportedOSPlatform("linux")]
internal sealed unsafe class RealSystemActions : ISystemActions
{
    private static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(30);

    public void Shutdown(string flag) =>
        RunHelper("/sbin/shutdown", new[] { flag, "+0", "hypervisor initiated shutdown" }, null, "shutdown");

    public void Suspend(string mode)
    {
        if (mode == "hybrid")
        {
            WriteSysfsOrThrow("/sys/power/disk", "suspend");
            WriteSysfsOrThrow("/sys/power/state", "disk");
            return;
        }

        WriteSysfsOrThrow("/sys/power/state", mode == "disk" ? "disk" : "mem");
    }

    public void SetTime(long? nanoseconds)
    {
        if (nanoseconds is long ns)
        {
            var ts = new Libc.Timespec { Sec = ns / 1_000_000_000, Nsec = ns % 1_000_000_000 };
            if (Libc.ClockSettime(Libc.CLOCK_REALTIME, ts) != 0)
            {
                throw new AgentCommandException("Failed to set time to guest: " + Libc.LastError());
            }
        }

        string hwclock = File.Exists("/sbin/hwclock") ? "/sbin/hwclock" : "/usr/sbin/hwclock";
        RunHelper(hwclock, new[] { nanoseconds is null ? "-s" : "-w" }, null, "set hardware clock to system time");
    }

    public void SetPassword(string user, string password, bool crypted)
    {
        string? chpasswd = FindInPath("chpasswd");
        if (chpasswd is null)
        {
            throw new AgentCommandException("cannot find 'chpasswd' program in PATH");
        }

        RunHelper(chpasswd, crypted ? new[] { "-e" } : Array.Empty<string>(), user + ":" + password + "\n", "set user password");
    }

    public int Freeze(string mountpoint) => Ioctl(mountpoint, Libc.FIFREEZE, null);

    public int Thaw(string mountpoint) => Ioctl(mountpoint, Libc.FITHAW, null);

    public (int Errno, ulong Trimmed) Trim(string mountpoint, ulong minimum)
    {
        var range = new Libc.FstrimRange { Start = 0, Len = ulong.MaxValue, MinLen = minimum };
        int err = Ioctl(mountpoint, Libc.FITRIM, &range);
        return (err, err == 0 ? range.Len : 0);
    }

    public int WriteSysfs(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 13;
        }
        catch (IOException ex)
        {
            return ex.HResult & 0xFFFF;
        }
    }

    public int RunHook(string hook, string argument)
    {
        using var p = Process.Start(new ProcessStartInfo(hook, argument) { UseShellExecute = false });
        if (p is null)
        {
            return -1;
        }

        if (!p.WaitForExit(HelperTimeout))
        {
            p.Kill();
            return -1;
        }

        return p.ExitCode;
    }

    private static void WriteSysfsOrThrow(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AgentCommandException("suspend: cannot write '" + value + "' to " + path + ": " + ex.Message);
        }
    }

    private static int Ioctl(string mountpoint, ulong request, void* arg)
    {
        int fd = Libc.Open(mountpoint, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        try
        {
            return Libc.Ioctl(fd, request, arg) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    private static string? FindInPath(string program)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>qemu-ga's ga_run_command: stdin data optional, failure "child process has failed to WHAT".</summary>
    private static void RunHelper(string path, string[] args, string? stdin, string what)
    {
        var psi = new ProcessStartInfo(path) { UseShellExecute = false, RedirectStandardInput = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using Process? p = Process.Start(psi);
        if (p is null)
        {
            throw AgentCommandException.CommandFailed("failed to create child process");
        }

        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
        }

        p.StandardInput.Close();
        if (!p.WaitForExit(HelperTimeout))
        {
            p.Kill();
            throw new AgentCommandException("child process has failed to " + what + ": timed out");
        }

        if (p.ExitCode != 0)
        {
            throw new AgentCommandException("child process has failed to " + what);
        }
    }
}

/// <summary>Small text helpers for procfs/sysfs.</summary>
internal static class SysText
{
    public static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static string? ReadTrim(string path) => Read(path)?.Trim();

    /// <summary>Shell-style unquoting of an os-release value (QEMU's ga_get_value semantics).</summary>
    public static string UnquoteOsRelease(string value)
    {
        value = value.Trim();
        var sb = new StringBuilder();
        char quote = '\0';
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (quote == '\0' && (c == '"' || c == '\''))
            {
                quote = c;
                continue;
            }

            if (c == quote)
            {
                quote = '\0';
                continue;
            }

            if (c == '\\' && quote != '\'' && i + 1 < value.Length)
            {
                char n = value[i + 1];
                if (quote == '"' ? n is '"' or '\\' or '$' or '`' or '\'' : true)
                {
                    sb.Append(n);
                    i++;
                    continue;
                }
            }

            sb.Append(c);
        }

        return sb.ToString();
    }

    public static Dictionary<string, string> ParseOsRelease(string text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            int eq = line.IndexOf('=');
            if (eq <= 0)
            {
                continue;
            }

            result[line.Substring(0, eq)] = UnquoteOsRelease(line.Substring(eq + 1));
        }

        return result;
    }
}
