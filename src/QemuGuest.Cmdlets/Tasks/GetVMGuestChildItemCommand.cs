using System;
using System.Management.Automation;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// <para type="synopsis">Lists the files and folders of a guest folder, one object per item.</para>
/// <para type="description">Writes one GuestChildItem per item (Name, FullName, Type, Length,
/// Mode as ls shows it, LastWriteTime, VMName), so the output filters with Where-Object and pipes
/// into Copy-VMGuestFile -GuestToLocal and Remove-VMGuestItem by its FullName. -Path is an
/// absolute guest path: a folder lists its items, a file lists itself, and wildcards in its last
/// component (/var/log/*.log) list the matching items of that folder. -Recurse descends into
/// subfolders (never through links); -Filter keeps the items whose names match at every level.
/// Works with QemuGuest's agent (its list extension) and with a stock qemu-ga on Linux whose
/// guest-exec is allowed (GNU find). Values are the guest's, raw: a name that is not one path
/// component (the guest listed "..", or a name holding "/") keeps its Name but gets no FullName,
/// and the console shows every name escaped.</para>
/// <para type="link">Copy-VMGuestFile</para>
/// <para type="link">Remove-VMGuestItem</para>
/// <para type="link">Get-VMGuestItem</para>
/// </summary>
/// <example title="List a guest folder">
/// <code>PS C:\&gt; Get-VMGuestChildItem -VMName web01 /srv/www/site</code>
/// <para>Lists the items of /srv/www/site in web01's guest, grouped by folder as Get-ChildItem
/// shows them: Mode, LastWriteTime, Length and Name.</para>
/// </example>
/// <example title="Find files in a guest by name and size, and fetch them">
/// <code>PS C:\&gt; Get-VMGuestChildItem -VMName web02 /srv/www -Recurse -Filter *.css |
///     Where-Object { $_.Type -eq 'File' -and $_.Length -gt 10 } |
///     Copy-VMGuestFile -VMName web02 -GuestToLocal -Destination ./ -Force</code>
/// <para>Lists every .css file under /srv/www of web02's guest, keeps those over 10 bytes and
/// copies them into the current folder: each object's FullName binds to -Source.</para>
/// </example>
/// <example title="Wildcards in the path, several guests">
/// <code>PS C:\&gt; Get-VMGuestChildItem -VMName web01, web02 /srv/www/site/*.html | Format-Table VMName, Mode, Length, FullName</code>
/// <para>Lists the .html files of /srv/www/site in both guests; VMName says which guest each
/// came from.</para>
/// </example>
[Cmdlet(VerbsCommon.Get, "VMGuestChildItem", DefaultParameterSetName = SessionParameterSet)]
[OutputType(typeof(GuestChildItem))]
public sealed class GetVMGuestChildItemCommand : GuestCmdlet
{
    /// <summary>Absolute guest paths: folders, files, or a folder's items by a pattern in the last component.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string[] Path { get; set; } = Array.Empty<string>();

    /// <summary>Only items whose names match this pattern (at every level with -Recurse).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    public string? Filter { get; set; }

    /// <summary>List the items of subfolders too, all the way down (bounded: 64 levels, a million items).</summary>
    [Parameter]
    public SwitchParameter Recurse { get; set; }

    protected override GuestOperation? CreateOperation()
    {
        foreach (string p in Path)
        {
            if (!GuestTransferEngine.IsAbsolute(p))
            {
                WriteError(ErrorTable.RelativeGuestPathError(p));
                return null;
            }
        }
        string[] paths = (string[])Path.Clone();
        string? filter = Filter;
        bool recurse = Recurse.IsPresent;
        return context => ListAsync(context, paths, filter, recurse);
    }

    private static async Task ListAsync(GuestOperationContext context, string[] paths, string? filter, bool recurse)
    {
        var engine = await GuestTransferEngine.OpenAsync(context.Channel, context.Session.Facts, context.CallOptions, context.Session.TargetName, context.CancellationToken).ConfigureAwait(false);
        // Guest names compare as the guest's file system does: Windows folds case, Linux does not.
        var options = engine.Profile.IsWindows ? WildcardOptions.IgnoreCase : WildcardOptions.None;
        Func<string, bool>? nameFilter = filter is null ? null : new WildcardPattern(filter, options).IsMatch;
        string vmName = context.Session.TargetName;
        foreach (string path in paths)
        {
            string leaf = GuestTransferEngine.LeafName(path);
            Func<string, bool>? leafPattern = WildcardPattern.ContainsWildcardCharacters(leaf) ? new WildcardPattern(leaf, options).IsMatch : null;
            context.WriteVerbose(vmName + ": listing " + QemuGuest.Protocol.GuestText.Printable(path, multiline: false) + (recurse ? " with its subfolders" : string.Empty));
            try
            {
                await GuestChildItems.ListAsync(engine, path, leafPattern, nameFilter, recurse,
                    item => context.WriteObject(new GuestChildItem(vmName, item)), context.CancellationToken,
                    subfolderDenied: denied => context.WriteError(ErrorTable.ToErrorRecord(denied, vmName + ":" + (denied.Target ?? path)))).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TransferException or QemuGuest.Protocol.QgaCommandException)
            {
                // One path failing (missing, unreadable) does not stop the others.
                context.WriteError(ErrorTable.ToErrorRecord(ex, vmName + ":" + path));
            }
        }
    }
}
