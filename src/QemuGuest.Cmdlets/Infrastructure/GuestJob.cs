using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using System.Threading;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// What -AsJob returns, as Invoke-Command -AsJob does: the same cmdlet with the same parameters
/// (less -AsJob), run on a thread and a runspace of its own in this process, once per pipeline
/// input it was given. Output, errors, warnings, verbose and progress land in the job's streams
/// (Receive-Job); Stop-Job stops it like Ctrl+C, with the cmdlet's own bounded cleanup. Built on
/// the Job base class alone because Windows PowerShell 5.1 has no ThreadJob module.
/// </summary>
public sealed class GuestJob : Job
{
    /// <summary>Longer than a cancelled cmdlet's own cleanup bound (16 s), so Stop-Job returns after it.</summary>
    private static readonly TimeSpan StopBound = TimeSpan.FromSeconds(30);

    private readonly object _gate = new();
    private readonly string _cmdletName;
    private readonly Type _cmdletType;
    private readonly IReadOnlyList<Dictionary<string, object>> _invocations;
    private readonly string _currentDirectory;
    private readonly string _targets;
    private readonly ManualResetEventSlim _ended = new(false);
    private PowerShell? _running;
    private int _stopRequested;

    internal GuestJob(string command, string cmdletName, Type cmdletType, IReadOnlyList<Dictionary<string, object>> invocations,
        string currentDirectory, string targets)
        : base(command)
    {
        PSJobTypeName = nameof(GuestJob);
        _cmdletName = cmdletName;
        _cmdletType = cmdletType;
        _invocations = invocations;
        _currentDirectory = currentDirectory;
        _targets = targets;
    }

    /// <summary>The VMs or sessions the job works on.</summary>
    public override string Location => _targets;

    public override string StatusMessage => string.Empty;

    public override bool HasMoreData =>
        Output.Count > 0 || Error.Count > 0 || Warning.Count > 0 || Verbose.Count > 0 || Debug.Count > 0 || Information.Count > 0;

    public override void StopJob()
    {
        Interlocked.Exchange(ref _stopRequested, 1);
        PowerShell? running;
        lock (_gate)
        {
            running = _running;
        }
        running?.BeginStop(null, null);
        _ended.Wait(StopBound);
    }

    internal void Start()
    {
        SetJobState(JobState.Running);
        var thread = new Thread(Run) { IsBackground = true, Name = "QemuGuest job " + Id.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        thread.Start();
    }

    private bool StopRequested => Volatile.Read(ref _stopRequested) != 0;

    private void Run()
    {
        var state = JobState.Completed;
        try
        {
            // Only the one cmdlet, and the core commands and providers it resolves paths with.
            var iss = InitialSessionState.CreateDefault2();
            iss.Commands.Add(new SessionStateCmdletEntry(_cmdletName, _cmdletType, null));
            using var runspace = RunspaceFactory.CreateRunspace(iss);
            runspace.Open();
            // Relative local paths mean what they meant where -AsJob was typed.
            runspace.SessionStateProxy.Path.SetLocation(WildcardPattern.Escape(_currentDirectory));
            foreach (var parameters in _invocations)
            {
                if (StopRequested)
                {
                    state = JobState.Stopped;
                    break;
                }
                using var ps = PowerShell.Create();
                ps.Runspace = runspace;
                ps.Streams.Error = Error;
                ps.Streams.Warning = Warning;
                ps.Streams.Verbose = Verbose;
                ps.Streams.Debug = Debug;
                ps.Streams.Progress = Progress;
                ps.Streams.Information = Information;
                ps.AddCommand(_cmdletName).AddParameters(parameters);
                lock (_gate)
                {
                    _running = ps;
                }
                try
                {
                    ps.Invoke<PSObject>(null, Output);
                }
                finally
                {
                    lock (_gate)
                    {
                        _running = null;
                    }
                }
                if (ps.InvocationStateInfo.State == PSInvocationState.Stopped)
                {
                    state = JobState.Stopped;
                    break;
                }
            }
        }
        catch (Exception ex) when (StopRequested && ex is PipelineStoppedException or OperationCanceledException)
        {
            state = JobState.Stopped;
        }
        catch (Exception ex)
        {
            // A terminating error of the cmdlet (bad parameters, say): the job failed, and its
            // error stream says why (the base class takes no reason from outside PowerShell).
            state = JobState.Failed;
            var record = ex is IContainsErrorRecord withRecord
                ? withRecord.ErrorRecord
                : ErrorTable.ToErrorRecord(ex, _targets);
            Error.Add(record);
        }
        finally
        {
            SetJobState(state);
            _ended.Set();
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _ended.Dispose();
        }
        base.Dispose(disposing);
    }
}
