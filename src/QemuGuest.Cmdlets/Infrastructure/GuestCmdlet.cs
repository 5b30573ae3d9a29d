using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Protocol;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// Base of every cmdlet that talks to guests (generated and hand-written). It owns target
/// selection (-Session or -VMName), concurrency across targets (-ThrottleLimit), the per-call
/// timeout (-TimeoutSec), ShouldProcess, cancellation on Ctrl+C, and the mapping of failures to
/// ErrorRecords (one failed target is a non-terminating error; the others carry on).
/// </summary>
public abstract class GuestCmdlet : PSCmdlet, IDisposable
{
    public const string SessionParameterSet = "Session";
    public const string VMNameParameterSet = "VMName";

    // Sets of cmdlets that also take a -Credential (generated from the overlay's 'credential'):
    // each target set once more, with the credential in place of a user name and password.
    public const string SessionCredentialParameterSet = "SessionCredential";
    public const string VMNameCredentialParameterSet = "VMNameCredential";

    private readonly CancellationTokenSource _stopping = new();
    private readonly BlockingCollection<Action<GuestCmdlet>> _pipelineQueue = new(boundedCapacity: 1024);
    private readonly List<Task> _running = new();
    private readonly List<GuestSession> _temporarySessions = new();
    private SemaphoreSlim? _throttle;
    private List<Dictionary<string, object>>? _jobInvocations;
    private int _disposed;

    /// <summary>Sessions from New-VMGuestSession / Get-VMGuestSession.</summary>
    [Parameter(ParameterSetName = SessionParameterSet, Mandatory = true, ValueFromPipeline = true)]
    [ValidateNotNullOrEmpty]
    public GuestSession[] Session { get; set; } = Array.Empty<GuestSession>();

    /// <summary>
    /// VM names: an open session with that name, or else the relay's endpoint for that VM. A
    /// pattern (web*) stands for every open session and relay VM it matches; one that matches
    /// none is the error VMNotFound. Also bound from the VMName property of piped objects
    /// (every output object has one).
    /// </summary>
    // By value too ('vm1','vm2' | Test-VMGuestAgent). The parameter type converts from strings
    // only, so other piped objects bind by their properties instead of as their text.
    [Parameter(ParameterSetName = VMNameParameterSet, Mandatory = true, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(VMNameCompleter))]
    public VMNameArgument[] VMName { get; set; } = Array.Empty<VMNameArgument>();

    /// <summary>How many targets are worked on at once.</summary>
    [Parameter]
    [ValidateRange(1, 1024)]
    public int ThrottleLimit { get; set; } = 32;

    /// <summary>Seconds to wait for each agent reply (default: the session's own timeout).</summary>
    [Parameter]
    [ValidateRange(1, 86400)]
    public int TimeoutSec { get; set; }

    /// <summary>
    /// Called on the pipeline thread once per input record: capture the current parameter
    /// values and return the work to run per target. Return null to skip this record.
    /// </summary>
    protected abstract GuestOperation? CreateOperation();

    /// <summary>
    /// The action shown by -WhatIf/-Confirm, or null when the cmdlet changes nothing
    /// (then ShouldProcess is not consulted).
    /// </summary>
    protected virtual string? ShouldProcessAction => null;

    /// <summary>
    /// Reports a target that cannot be worked on (closed session, unknown VM, unreachable
    /// endpoint). Test- cmdlets answer $false for it instead of an error.
    /// </summary>
    protected virtual void OnTargetUnavailable(string target, ErrorRecord record) => WriteError(record);

    /// <summary>Token cancelled by Ctrl+C / StopProcessing.</summary>
    protected CancellationToken StoppingToken => _stopping.Token;

    protected override void BeginProcessing()
    {
        _throttle = new SemaphoreSlim(ThrottleLimit, ThrottleLimit);
    }

    /// <summary>
    /// True when the cmdlet was asked for -AsJob (only the long-running task cmdlets have that
    /// parameter): each pipeline input's parameters are kept, and EndProcessing returns a
    /// <see cref="GuestJob"/> that runs them instead of running them here.
    /// </summary>
    protected virtual bool AsJobRequested => false;

    protected override void ProcessRecord()
    {
        if (AsJobRequested)
        {
            var parameters = new Dictionary<string, object>(MyInvocation.BoundParameters, StringComparer.OrdinalIgnoreCase);
            // The job never asks: -WhatIf/-Confirm are answered once, for the job, in EndProcessing.
            parameters.Remove("AsJob");
            parameters.Remove("WhatIf");
            parameters["Confirm"] = new SwitchParameter(false);
            (_jobInvocations ??= new List<Dictionary<string, object>>()).Add(parameters);
            return;
        }
        var operation = CreateOperation();
        if (operation is null)
        {
            return;
        }
        foreach (var session in ResolveTargets())
        {
            string? action = ShouldProcessAction;
            if (action is not null && !ShouldProcess(session.Name, action))
            {
                continue;
            }
            StartOperation(session, operation);
            DrainPipelineQueue(block: false);
        }
        DrainPipelineQueue(block: false);
    }

    protected override void EndProcessing()
    {
        if (_jobInvocations is not null)
        {
            StartJob(_jobInvocations);
            return;
        }
        WaitForAll();
        CloseTemporarySessions();
    }

    protected override void StopProcessing()
    {
        _stopping.Cancel();
    }

    private void StartJob(List<Dictionary<string, object>> invocations)
    {
        string targets = ParameterSetName == SessionParameterSet
            ? string.Join(", ", System.Linq.Enumerable.Select(Session, s => s.Name))
            : string.Join(", ", System.Linq.Enumerable.Select(VMName, v => v.Name));
        string name = MyInvocation.MyCommand.Name;
        if (!ShouldProcess(targets, "Start a background job: " + name))
        {
            return;
        }
        var job = new GuestJob(MyInvocation.Line.Trim(), name, GetType(), invocations,
            SessionState.Path.CurrentFileSystemLocation.ProviderPath, targets);
        JobRepository.Add(job);
        job.Start();
        WriteObject(job);
    }

    /// <summary>Queues an action to run on the pipeline thread (WriteObject etc. are not thread-safe).</summary>
    internal void Post(Action<GuestCmdlet> action)
    {
        try
        {
            _pipelineQueue.Add(action, _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopping: output is no longer wanted.
        }
        catch (InvalidOperationException)
        {
            // Completed: the cmdlet is finishing.
        }
    }

    /// <summary>-WhatIf given, or $WhatIfPreference: read on the pipeline thread, for operations that walk on under -WhatIf to show every item.</summary>
    protected bool WhatIfRequested => MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? w)
        ? ((SwitchParameter)w).IsPresent
        : LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference"));

    /// <summary>-Verbose given, or $VerbosePreference asks for it: then each agent call is traced.</summary>
    private bool VerboseWanted => MyInvocation.BoundParameters.TryGetValue("Verbose", out object? v)
        ? ((SwitchParameter)v).IsPresent
        : GetVariableValue("VerbosePreference") is ActionPreference p && p != ActionPreference.SilentlyContinue && p != ActionPreference.Ignore;

    private IEnumerable<GuestSession> ResolveTargets()
    {
        if (ParameterSetName is SessionParameterSet or SessionCredentialParameterSet)
        {
            foreach (var s in Session)
            {
                if (s.IsDisposed)
                {
                    OnTargetUnavailable(s.Name, ErrorTable.ForVM(ErrorTable.Create(ErrorTable.SessionNotFound, ErrorCategory.ResourceUnavailable,
                        $"The session '{s.Name}' (Id {s.Id}) is closed.", s), s.TargetName));
                    continue;
                }
                yield return s;
            }
            yield break;
        }

        foreach (var name in ExpandVMNames())
        {
            GuestSession? session = SessionRegistry.FindByName(name);
            if (session is null)
            {
                try
                {
                    WriteVerbose(name + ": no open session of that name: connecting to the relay's endpoint for it and syncing");
                    session = SessionFactory.OpenForVM(name, temporary: true);
                    _temporarySessions.Add(session);
                    WriteVerbose(name + ": connected (" + session.ConnectionString + ")");
                }
                catch (GuestTaskException ex)
                {
                    OnTargetUnavailable(name, ErrorTable.ForVM(ErrorTable.ToErrorRecord(ex, name), name));
                    continue;
                }
                catch (Exception ex) when (ex is not PipelineStoppedException)
                {
                    OnTargetUnavailable(name, ErrorTable.ForVM(ErrorTable.Create(ErrorTable.VMNotFound, ErrorCategory.ObjectNotFound,
                        $"No session named '{name}' and no relay endpoint for VM '{name}': {ex.Message}", name), name));
                    continue;
                }
            }
            yield return session;
        }
    }

    /// <summary>
    /// -VMName as given, with each wildcard pattern replaced by the names it matches; a VM that
    /// overlapping patterns (*01, web*) both match is worked on once.
    /// </summary>
    private IEnumerable<string> ExpandVMNames()
    {
        var matched = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var v in VMName)
        {
            if (!WildcardPattern.ContainsWildcardCharacters(v.Name))
            {
                yield return v.Name;
                continue;
            }
            var matches = SessionFactory.MatchVMNames(v.Name, includeSessions: true);
            if (matches.Count == 0)
            {
                WriteError(SessionFactory.NoVMMatches(v.Name));
            }
            foreach (var name in matches)
            {
                if (matched.Add(name))
                {
                    yield return name;
                }
            }
        }
    }

    private void StartOperation(GuestSession session, GuestOperation operation)
    {
        var options = new QgaCallOptions();
        if (TimeoutSec > 0)
        {
            options.Timeout = TimeSpan.FromSeconds(TimeoutSec);
        }

        // Acquire the throttle on the pipeline thread, pumping output while we wait, so a
        // slow target never deadlocks against a full output queue.
        try
        {
            while (!_throttle!.Wait(50, _stopping.Token))
            {
                DrainPipelineQueue(block: false);
            }
        }
        catch (OperationCanceledException)
        {
            WaitForCleanup(CleanupBound);
            throw new PipelineStoppedException();
        }

        var context = new GuestOperationContext(this, session, options, _stopping.Token, VerboseWanted);
        var task = Task.Run(async () =>
        {
            try
            {
                await operation(context).ConfigureAwait(false);
                session.NoteOutcome(null);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Ctrl+C: nothing to report.
            }
            catch (Exception ex)
            {
                session.NoteOutcome(ex);
                var record = ErrorTable.ForVM(ErrorTable.ToErrorRecord(ex, session.TargetName), session.TargetName);
                Post(c => c.WriteError(record));
            }
            finally
            {
                _throttle.Release();
            }
        });
        lock (_running)
        {
            _running.Add(task);
        }
    }

    private void WaitForAll()
    {
        Task all;
        lock (_running)
        {
            all = Task.WhenAll(_running.ToArray());
        }
        while (!all.IsCompleted)
        {
            DrainPipelineQueue(block: true, timeoutMs: 50);
            if (_stopping.IsCancellationRequested)
            {
                // Ctrl+C returns the prompt only after the operations' own cleanup (close guest
                // handles, remove temporary files) has run: a caller that checks the guest right
                // after the stop must not find a half-written temporary file still being removed.
                WaitForCleanup(CleanupBound);
                break;
            }
        }
        DrainPipelineQueue(block: false);
    }

    private void DrainPipelineQueue(bool block, int timeoutMs = 0)
    {
        if (block && _pipelineQueue.TryTake(out var first, timeoutMs))
        {
            first(this);
        }
        while (_pipelineQueue.TryTake(out var action))
        {
            action(this);
        }
    }

    /// <summary>
    /// How long Ctrl+C waits for cancelled operations to clean up. Longer than the cleanup
    /// helpers' own bounds (GuestFs: close 5 s, then remove 10 s), so they finish or give up first.
    /// </summary>
    private static readonly TimeSpan CleanupBound = TimeSpan.FromSeconds(16);

    /// <summary>
    /// After Ctrl+C, gives cancelled operations a bounded time to run their cleanup (close guest
    /// handles, remove temporary files) before their temporary sessions are closed under them.
    /// </summary>
    private void WaitForCleanup(TimeSpan bound)
    {
        Task[] running;
        lock (_running)
        {
            running = _running.ToArray();
        }
        try
        {
            Task.WaitAll(running, bound);
        }
        catch (AggregateException)
        {
            // Failures were already reported (or are moot once stopping).
        }
    }

    private void CloseTemporarySessions()
    {
        foreach (var s in _temporarySessions)
        {
            s.Dispose();
        }
        _temporarySessions.Clear();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping.Cancel();
        WaitForCleanup(CleanupBound);
        CloseTemporarySessions();
        _stopping.Dispose();
        _throttle?.Dispose();
        _pipelineQueue.Dispose();
        GC.SuppressFinalize(this);
    }
}
