using System.Collections.Generic;
using System.IO;
using QemuGuest.Agent.Platform.Linux;

namespace QemuGuest.Agent.Tests;

/// <summary>Records what the dangerous commands would have done; never touches the machine.</summary>
internal sealed class FakeActions : ISystemActions
{
    public List<string> Calls { get; } = new();

    public int FreezeResult { get; set; }

    public void Shutdown(string flag) => Calls.Add("shutdown " + flag);

    public void Suspend(string mode) => Calls.Add("suspend " + mode);

    public void SetTime(long? nanoseconds) => Calls.Add("settime " + nanoseconds);

    public void SetPassword(string user, string password, bool crypted) => Calls.Add("passwd " + user + ":" + password + ":" + crypted);

    public int Freeze(string mountpoint)
    {
        Calls.Add("freeze " + mountpoint);
        return FreezeResult;
    }

    public int Thaw(string mountpoint)
    {
        bool wasFrozen = Calls.Contains("freeze " + mountpoint) && !Calls.Contains("thaw " + mountpoint);
        Calls.Add("thaw " + mountpoint);
        return wasFrozen ? 0 : 22;
    }

    public (int Errno, ulong Trimmed) Trim(string mountpoint, ulong minimum)
    {
        Calls.Add("trim " + mountpoint + " " + minimum);
        return (0, 4096);
    }

    public int WriteSysfs(string path, string value)
    {
        Calls.Add("write " + Path.GetFileName(Path.GetDirectoryName(path)) + "/" + Path.GetFileName(path) + "=" + value);
        return 0;
    }

    public int RunHook(string hook, string argument)
    {
        Calls.Add("hook " + argument);
        return 0;
    }
}
