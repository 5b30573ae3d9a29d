using System;
using System.Collections.Generic;
using System.IO;

namespace QemuGuest.Agent.Configuration;

/// <summary>
/// qemu-ga's GAConfig: everything the command line and the keyfile can set. Filled by
/// <see cref="CommandLine"/>; validated and defaulted by <see cref="Finish"/>.
/// </summary>
public sealed class AgentConfig
{
    public const string MethodVirtioSerial = "virtio-serial";
    public const string MethodIsaSerial = "isa-serial";
    public const string MethodUnixListen = "unix-listen";
    public const string MethodVsockListen = "vsock-listen";

    public static string DefaultVirtioPath =>
        OperatingSystem.IsWindows() ? @"\\.\Global\org.qemu.guest_agent.0" : "/dev/virtio-ports/org.qemu.guest_agent.0";

    public static string DefaultSerialPath => OperatingSystem.IsWindows() ? "COM1" : "/dev/ttyS0";

    public static string DefaultStateDir =>
        OperatingSystem.IsWindows()
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "qemu-ga")
            : "/var/run";

    public static string DefaultPidFile => Path.Combine(DefaultStateDir, "qemu-ga.pid");

    public const string DefaultFsfreezeHook = "/etc/qemu/fsfreeze-hook";

    public static string DefaultConfigFile =>
        OperatingSystem.IsWindows()
            ? Path.Combine(AppContext.BaseDirectory, "qemu-ga.conf")
            : "/etc/qemu/qemu-ga.conf";

    public string? Method { get; set; }

    public string? ChannelPath { get; set; }

    public string? LogFile { get; set; }

    public string? PidFile { get; set; }

    public string? FsfreezeHook { get; set; }

    public string? StateDir { get; set; }

    public bool Verbose { get; set; }

    public bool Daemonize { get; set; }

    public bool DumpConf { get; set; }

    public bool RetryPath { get; set; }

    /// <summary>Windows only: install / uninstall (service commands, like qemu-ga -s).</summary>
    public string? Service { get; set; }

    public List<string> BlockedRpcs { get; } = new();

    public List<string> AllowedRpcs { get; } = new();

    /// <summary>True when started by systemd socket activation (LISTEN_FDS=1 for our pid).</summary>
    public bool SocketActivation { get; set; }

    /// <summary>
    /// Applies qemu-ga's defaults after parsing. Returns an error message (qemu-ga's text) or null.
    /// </summary>
    public string? Finish(int listenFds, Func<string?> socketActivationMethod)
    {
        PidFile ??= DefaultPidFile;
        StateDir ??= DefaultStateDir;
        Method ??= MethodVirtioSerial;

        if (listenFds > 1)
        {
            return "qemu-ga only supports listening on one socket";
        }

        if (listenFds == 1)
        {
            SocketActivation = true;
            ChannelPath = null;
            Method = socketActivationMethod();
            if (Method is null)
            {
                return "unsupported listen fd type";
            }
        }
        else if (ChannelPath is null)
        {
            if (Method == MethodVirtioSerial)
            {
                ChannelPath = DefaultVirtioPath;
            }
            else if (Method == MethodIsaSerial)
            {
                ChannelPath = DefaultSerialPath;
            }
            else
            {
                return "must specify a path for this channel";
            }
        }

        return null;
    }

    /// <summary>qemu-ga -D: the effective config as a keyfile.</summary>
    public string Dump()
    {
        var kf = new KeyFile();
        kf.SetBoolean("general", "daemon", Daemonize);
        kf.SetString("general", "method", Method ?? MethodVirtioSerial);
        if (ChannelPath is not null)
        {
            kf.SetString("general", "path", ChannelPath);
        }

        if (LogFile is not null)
        {
            kf.SetString("general", "logfile", LogFile);
        }

        kf.SetString("general", "pidfile", PidFile ?? DefaultPidFile);
        if (FsfreezeHook is not null)
        {
            kf.SetString("general", "fsfreeze-hook", FsfreezeHook);
        }

        kf.SetString("general", "statedir", StateDir ?? DefaultStateDir);
        kf.SetBoolean("general", "verbose", Verbose);
        kf.SetBoolean("general", "retry-path", RetryPath);
        kf.SetString("general", "block-rpcs", string.Join(";", BlockedRpcs));
        kf.SetString("general", "allow-rpcs", string.Join(";", AllowedRpcs));
        return kf.ToData();
    }

    /// <summary>
    /// Reads the [general] group of a qemu-ga config file (same keys as qemu-ga; 'blacklist'
    /// is the deprecated spelling of 'block-rpcs'). RPC lists accept ';' (GLib string list)
    /// and ',' separators. Throws <see cref="FormatException"/> on a malformed value.
    /// </summary>
    public void Load(KeyFile kf)
    {
        const string G = "general";
        if (kf.GetBoolean(G, "daemon") is bool d)
        {
            Daemonize = d;
        }

        Method = kf.GetString(G, "method") ?? Method;
        ChannelPath = kf.GetString(G, "path") ?? ChannelPath;
        LogFile = kf.GetString(G, "logfile") ?? LogFile;
        PidFile = kf.GetString(G, "pidfile") ?? PidFile;
        FsfreezeHook = kf.GetString(G, "fsfreeze-hook") ?? FsfreezeHook;
        StateDir = kf.GetString(G, "statedir") ?? StateDir;
        if (kf.GetBoolean(G, "verbose") == true)
        {
            Verbose = true;
        }

        if (kf.GetBoolean(G, "retry-path") is bool r)
        {
            RetryPath = r;
        }

        foreach (string key in new[] { "blacklist", "block-rpcs" })
        {
            if (kf.GetString(G, key) is string list)
            {
                BlockedRpcs.AddRange(SplitRpcList(list, ';', ','));
            }
        }

        if (kf.GetString(G, "allow-rpcs") is string allow)
        {
            AllowedRpcs.AddRange(SplitRpcList(allow, ';', ','));
        }
    }

    public static IEnumerable<string> SplitRpcList(string list, params char[] separators)
    {
        foreach (string part in list.Split(separators))
        {
            if (part.Length > 0)
            {
                yield return part;
            }
        }
    }
}
