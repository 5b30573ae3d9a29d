using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Facade;
using QemuGuest.Protocol.Processes;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>What a running operation may use: its session, cancellation, call options, output.</summary>
public sealed class GuestOperationContext
{
    private readonly GuestCmdlet _cmdlet;

    internal GuestOperationContext(GuestCmdlet cmdlet, GuestSession session, QgaCallOptions options, CancellationToken cancellationToken, bool trace = false)
    {
        _cmdlet = cmdlet;
        Session = session;
        CallOptions = options;
        CancellationToken = cancellationToken;
        Channel = trace ? new TracingChannel(session.Channel, WriteVerbose, session.TargetName) : session.Channel;
    }

    public GuestSession Session { get; }

    /// <summary>The channel to the agent (thread-safe); with -Verbose it traces each call.</summary>
    public IGuestAgentChannel Channel { get; }

    public QgaCallOptions CallOptions { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>The guest-process engine over this session's channel and facts, with this operation's call options.</summary>
    internal GuestProcessEngine CreateProcessEngine() => new(Channel, Session.Facts, CallOptions, Session.TargetName);

    /// <summary>Writes an output object (each element of an array), tagged with the VMName it came from.</summary>
    public void WriteObject(object? value)
    {
        if (value is null)
        {
            return;
        }
        if (value is bool)
        {
            // A Test- cmdlet's answer stays a plain bool: `if (Test-VMGuestAgent ...)`, -eq $true
            // and its display (True/False) must not see a decorated object.
            _cmdlet.Post(c => c.WriteObject(value));
            return;
        }
        if (value is object?[] array)
        {
            foreach (var item in array)
            {
                WriteObject(item);
            }
            return;
        }
        var ps = PSObject.AsPSObject(value);
        if (ps.Properties["VMName"] is null)
        {
            ps.Properties.Add(new PSNoteProperty("VMName", Session.TargetName));
        }
        // Views are looked up along TypeNames in order: a type's own view still wins, and one
        // without a view falls to the catch-all, which escapes what the guest wrote.
        if (value is not string && !ps.TypeNames.Contains(GuestDisplay.CatchAllTypeName))
        {
            int last = ps.TypeNames.Count - 1;
            ps.TypeNames.Insert(last >= 0 && ps.TypeNames[last] == "System.Object" ? last : ps.TypeNames.Count, GuestDisplay.CatchAllTypeName);
        }
        _cmdlet.Post(c => c.WriteObject(ps));
    }

    public void WriteVerbose(string text) => _cmdlet.Post(c => c.WriteVerbose(text));

    public void WriteWarning(string text) => _cmdlet.Post(c => c.WriteWarning(text));

    public void WriteDebug(string text) => _cmdlet.Post(c => c.WriteDebug(text));

    public void WriteInformation(InformationRecord record) => _cmdlet.Post(c => c.WriteInformation(record));

    public void WriteProgress(ProgressRecord record) => _cmdlet.Post(c => c.WriteProgress(record));

    /// <summary>Writes a non-terminating error, tagged with the VMName it came from.</summary>
    public void WriteError(ErrorRecord record)
    {
        ErrorTable.ForVM(record, Session.TargetName);
        _cmdlet.Post(c => c.WriteError(record));
    }

    /// <summary>
    /// Asks ShouldProcess (-WhatIf/-Confirm) on the pipeline thread for one item an operation
    /// discovered while running (e.g. each file of a recursive copy); completes with false when
    /// the user declines, and is cancelled when the pipeline stops.
    /// </summary>
    public Task<bool> ShouldProcessAsync(string target, string action)
    {
        var answer = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = CancellationToken.Register(() => answer.TrySetCanceled());
        _cmdlet.Post(c =>
        {
            try
            {
                answer.TrySetResult(c.ShouldProcess(target, action));
            }
            catch (Exception ex)
            {
                answer.TrySetException(ex);
                throw;
            }
            finally
            {
                registration.Dispose();
            }
        });
        return answer.Task;
    }
}
