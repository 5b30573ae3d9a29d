using System;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Internal;
using System.Management.Automation.Remoting;
using System.Management.Automation.Remoting.Client;
using System.Management.Automation.Runspaces;
using System.Text;
using System.Threading;

namespace QemuGuest.Remoting;

/// <summary>
/// Where a PowerShell Direct session goes: a PowerShell server (pwsh -s) already running in the
/// guest, reached through <see cref="Stdio"/>, its standard input and output carried by the
/// guest agent. Modelled on PowerShell's own NamedPipeConnection test transport.
/// </summary>
public sealed class GuestConnectionInfo : RunspaceConnectionInfo
{
    public GuestConnectionInfo(Stream stdio, string computerName, Func<string> describeEnd)
    {
        Stdio = stdio ?? throw new ArgumentNullException(nameof(stdio));
        ComputerNameValue = computerName;
        DescribeEnd = describeEnd;
    }

    /// <summary>The guest server's standard input (writes) and output (reads).</summary>
    public Stream Stdio { get; }

    /// <summary>Why the server's output ended (exit code, signal, its standard error), for the error that breaks the session.</summary>
    public Func<string> DescribeEnd { get; }

    private string ComputerNameValue { get; }

    public override string ComputerName
    {
        get => ComputerNameValue;
        set => throw new NotSupportedException();
    }

    public override PSCredential? Credential
    {
        get => null;
        set => throw new NotSupportedException();
    }

    public override AuthenticationMechanism AuthenticationMechanism
    {
        get => AuthenticationMechanism.Default;
        set => throw new NotSupportedException();
    }

    public override string CertificateThumbprint
    {
        get => string.Empty;
        set => throw new NotSupportedException();
    }

    // PowerShell clones the info for the runspace pool; the clone must reach the same server.
    public override RunspaceConnectionInfo Clone() => new GuestConnectionInfo(Stdio, ComputerNameValue, DescribeEnd);

    public override BaseClientSessionTransportManager CreateClientSessionTransportManager(Guid instanceId, string sessionName, PSRemotingCryptoHelper cryptoHelper) =>
        new GuestSessionTransportManager(this, instanceId, cryptoHelper);
}

/// <summary>
/// PowerShell's "OutOfProc" remoting messages (one XML element per line, as pwsh -s speaks them
/// on its standard input and output) over the guest stream: the base class writes lines to the
/// writer given to SetMessageWriter; a reader thread hands each received line to HandleDataReceived.
/// </summary>
internal sealed class GuestSessionTransportManager : ClientSessionTransportManagerBase
{
    private readonly GuestConnectionInfo _info;
    private int _closed;

    internal GuestSessionTransportManager(GuestConnectionInfo info, Guid runspaceId, PSRemotingCryptoHelper cryptoHelper)
        : base(runspaceId, cryptoHelper)
    {
        _info = info;
    }

    public override void CreateAsync()
    {
        // No BOM: the server reads XML lines and would take one as part of the first.
        var writer = new StreamWriter(_info.Stdio, new UTF8Encoding(false), 64 * 1024) { AutoFlush = true, NewLine = "\n" };
        SetMessageWriter(writer);
        var reader = new StreamReader(_info.Stdio, new UTF8Encoding(false), false, 64 * 1024);
        var thread = new Thread(() => ReadLines(reader)) { IsBackground = true, Name = "QemuGuest PSDirect reader" };
        thread.Start();
    }

    protected override void CleanupConnection() => Close();

    protected override void Dispose(bool isDisposing)
    {
        base.Dispose(isDisposing);
        if (isDisposing)
        {
            Close();
        }
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _info.Stdio.Dispose();
        }
    }

    private void ReadLines(StreamReader reader)
    {
        try
        {
            // The server only speaks when spoken to: send the first queued message now.
            SendOneItem();
            while (true)
            {
                string? line = ReadBoundedLine(reader);
                if (line is null)
                {
                    break;
                }

                HandleDataReceived(line);
            }

            if (Volatile.Read(ref _closed) == 0)
            {
                Fail("The PowerShell server in the guest ended: " + _info.DescribeEnd());
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or TimeoutException)
        {
            if (Volatile.Read(ref _closed) == 0)
            {
                Fail("The PowerShell Direct connection to " + _info.ComputerName + " failed: " + ex.Message);
            }
        }
        catch (Exception ex)
        {
            // Anything else from the guest link (agent errors, a broken reply): the session is
            // over, and says why, instead of a reader thread dying silently and a pipeline hanging.
            if (Volatile.Read(ref _closed) == 0)
            {
                Fail("The PowerShell Direct connection to " + _info.ComputerName + " failed: " + ex.GetType().Name + ": " + ex.Message);
            }
        }
    }

    /// <summary>Maximum length of one remoting message line; PowerShell's fragments are far smaller.</summary>
    internal const int MaxLineChars = 16 * 1024 * 1024;

    // StreamReader.ReadLine has no bound: a guest could send one endless line.
    private static string? ReadBoundedLine(StreamReader reader)
    {
        var line = new StringBuilder();
        while (true)
        {
            int c = reader.Read();
            if (c < 0)
            {
                return line.Length > 0 ? line.ToString() : null;
            }

            if (c == '\n')
            {
                // A Windows guest's powershell.exe -s ends its lines with CRLF.
                return line.Length > 0 && line[line.Length - 1] == '\r' ? line.ToString(0, line.Length - 1) : line.ToString();
            }

            if (line.Length >= MaxLineChars)
            {
                throw new IOException("the guest sent a remoting message longer than " + MaxLineChars + " characters");
            }

            line.Append((char)c);
        }
    }

    private void Fail(string message)
    {
        // CloseShellOperationEx, as PowerShell's SSH and named-pipe transports report a broken
        // connection: it breaks the runspace in any state, also while it is still opening.
        RaiseErrorHandler(new TransportErrorOccuredEventArgs(new PSRemotingTransportException(message), TransportMethodEnum.CloseShellOperationEx));
        Close();
    }
}
