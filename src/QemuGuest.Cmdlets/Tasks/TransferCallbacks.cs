using System;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>A copy's or a sync's questions and reports, as PowerShell sees them: ShouldProcess, ErrorRecords, warnings, progress, Copy-VMGuestFile's -PassThru objects.</summary>
internal sealed class TransferCallbacks : IGuestCopyCallbacks
{
    private readonly GuestOperationContext _context;
    private readonly TransferProgress _progress;
    private readonly bool _passThru;

    public TransferCallbacks(GuestOperationContext context, TransferProgress progress, bool passThru, bool whatIf)
    {
        _context = context;
        _progress = progress;
        _passThru = passThru;
        WhatIf = whatIf;
    }

    public bool WhatIf { get; }

    public Task<bool> ShouldProcessAsync(string target, string action) => _context.ShouldProcessAsync(target, action);

    public void ItemFailed(Exception exception, string target) => _context.WriteError(ErrorTable.ToErrorRecord(exception, target));

    public void Warning(string text) => _context.WriteWarning(text);

    public IProgress<TransferProgressInfo> ProgressFor(string fileName) => _progress.For(fileName);

    public void Planned(int files, long bytes) => _progress.Plan(files, bytes);

    /// <summary>Both directions end here once the destination is in place: the last progress update and, with -PassThru, the result object.</summary>
    public void Completed(GuestCopiedFile file)
    {
        TransferResult result = file.Result;
        _progress.FileDone(file.Name, result.Bytes, result.Expected, result.Duration);
        if (_passThru)
        {
            _context.WriteObject(new GuestFileCopyResult
            {
                VMName = _context.Session.TargetName,
                Direction = file.ToGuest ? "LocalToGuest" : "GuestToLocal",
                Source = file.Source,
                Destination = file.Destination,
                Bytes = result.Bytes,
                Duration = result.Duration,
                Hash = result.Hash,
                Verified = result.Hash is not null,
                Atomic = result.Atomic,
            });
        }
    }
}
