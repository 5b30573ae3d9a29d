<#
.SYNOPSIS
    Sync-VMGuestItem of a tree of 1,000 files with 1% changed (10 files, one byte each, newer
    time), against a full Copy-VMGuestFile -Recurse -Force of the same tree, into the guest, with
    our agent and with Debian's qemu-ga, in one run. Also the sync that finds nothing changed.
    Returns rows and a detail section for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/sync/Invoke-SyncBench.ps1 -ModulePath out/QemuGuest -AgentPath out/bench/aot/qemuguest-agent
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    # Our agent: the NativeAOT binary (or the JIT .dll in quick runs).
    [Parameter(Mandatory)] [string] $AgentPath,
    [switch] $Quick
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force
$runs = if ($Quick) { 1 } else { 3 }
# -Quick (the harness's shape test): 100 files, 1 changed.
$fileCount = if ($Quick) { 100 } else { 1000 }
$changedCount = $fileCount / 100
$fileBytes = 16KB
$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-sync-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$tree = Join-Path $work 'tree'
# 10 folders of 100 files, 16 KiB of random bytes each.
for ($d = 0; $d -lt 10; $d++) {
    $null = New-Item -ItemType Directory -Force -Path "$tree/d$d"
    for ($i = 0; $i -lt $fileCount / 10; $i++) { New-BenchData -Path "$tree/d$d/f$i.bin" -Bytes $fileBytes }
}
$changed = 0..($changedCount - 1) | ForEach-Object { "$tree/d$_/f$(7 * $_ % ($fileCount / 10)).bin" }
function Set-Changed([int] $Round) {
    foreach ($f in $changed) {
        $s = [IO.File]::OpenWrite($f)
        try { $s.Position = 100; $s.WriteByte([byte]$Round) } finally { $s.Dispose() }
        [IO.File]::SetLastWriteTimeUtc($f, [IO.File]::GetLastWriteTimeUtc($f).AddSeconds(2))
    }
}

$m = @{}
$round = 0
try {
    foreach ($kind in 'Ours', 'Stock') {
        $agent = Start-BenchAgent -Kind $kind -AgentPath $AgentPath
        try {
            $s = New-VMGuestSession -ConnectionString $agent.ConnectionString -Name "bench-sync-$kind"
            $copy = [Collections.Generic.List[double]]::new(); $sync = [Collections.Generic.List[double]]::new(); $none = [Collections.Generic.List[double]]::new()
            $guest = Join-Path $agent.Directory 'synced'
            $null = Sync-VMGuestItem -Session $s -LocalPath $tree -GuestPath $guest -LocalToGuest
            for ($r = 0; $r -lt $runs; $r++) {
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $n = @(Copy-VMGuestFile -Session $s -LocalToGuest -Source $tree -Destination (Join-Path $agent.Directory 'copied') -Recurse -Force -PassThru).Count
                $copy.Add($clock.Elapsed.TotalSeconds)
                if ($n -ne $fileCount) { throw "$kind full copy wrote $n files, expected $fileCount" }

                Set-Changed (++$round)
                $clock.Restart()
                $res = Sync-VMGuestItem -Session $s -LocalPath $tree -GuestPath $guest -LocalToGuest
                $sync.Add($clock.Elapsed.TotalSeconds)
                if ($res.Copied.Count -ne $changedCount -or $res.BytesMoved -ne $changedCount * $fileBytes -or $res.Skipped -ne $fileCount - $changedCount) {
                    throw "$kind sync copied $($res.Copied.Count) files ($($res.BytesMoved) bytes), skipped $($res.Skipped): expected $changedCount ($($changedCount * $fileBytes) bytes), $($fileCount - $changedCount)"
                }
                $clock.Restart()
                $res = Sync-VMGuestItem -Session $s -LocalPath $tree -GuestPath $guest -LocalToGuest
                $none.Add($clock.Elapsed.TotalSeconds)
                if ($res.BytesMoved -ne 0 -or $res.Hashed -ne 0) { throw "$kind sync after no change moved $($res.BytesMoved) bytes and hashed $($res.Hashed) files" }
            }
            Remove-VMGuestSession -Session $s -Confirm:$false
            $m[$kind] = [pscustomobject]@{ Copy = Get-Median @($copy); Sync = Get-Median @($sync); None = Get-Median @($none) }
            Write-Host ('  {0,-6} full copy {1,7:N2} s  sync (1% changed) {2,6:N2} s  sync (nothing changed) {3,6:N2} s' -f $kind, $m[$kind].Copy, $m[$kind].Sync, $m[$kind].None)
        }
        finally { $agent | Stop-BenchProcess }
    }
}
finally { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }

$cmd = "dotnet pwsh -File bench/sync/Invoke-SyncBench.ps1 -ModulePath out/QemuGuest -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' })$(if ($Quick) { ' -Quick' })"
$n = if ($runs -gt 1) { ", median of $runs" } else { '' }
$rows = @(
    New-BenchRow -Area sync -What "Sync-VMGuestItem -LocalToGuest of $($fileCount.ToString('N0', [Globalization.CultureInfo]::InvariantCulture)) files (16 KiB each) with 1% changed, s${n}: our agent vs qemu-ga; ceiling = full Copy-VMGuestFile -Recurse with our agent" -Unit 's' -Better lower -Ours $m['Ours'].Sync -Stock $m['Stock'].Sync -Ceiling $m['Ours'].Copy -Command $cmd
    New-BenchRow -Area sync -What "full Copy-VMGuestFile -Recurse -Force of the same $($fileCount.ToString('N0', [Globalization.CultureInfo]::InvariantCulture)) files, s${n}: our agent vs qemu-ga" -Unit 's' -Better lower -Ours $m['Ours'].Copy -Stock $m['Stock'].Copy -Command $cmd
    New-BenchRow -Area sync -What "Sync-VMGuestItem of the same tree with nothing changed (0 bytes, 0 hashes), s${n}: our agent vs qemu-ga" -Unit 's' -Better lower -Ours $m['Ours'].None -Stock $m['Stock'].None -Command $cmd
)
$detail = @(
    '### Sync'
    ''
    "A local tree of $fileCount files (10 folders, 16 KiB of random bytes each) into a guest folder. Each round: a full"
    "``Copy-VMGuestFile -Recurse -Force`` of the tree into another folder, then one byte of 1% of the files changed with a newer time and"
    "``Sync-VMGuestItem -LocalToGuest`` (asserted: $changedCount files copied, $($changedCount * 16) KiB moved, the rest skipped), then the same sync again (asserted:"
    "0 bytes, 0 hashes). Seconds$n; the session is open before the clock starts."
    ''
    '| agent | full copy s | sync, 1% changed s | sync, nothing changed s | full copy ÷ sync |'
    '|---|---:|---:|---:|---:|'
    foreach ($k in 'Ours', 'Stock') {
        "| $(if ($k -eq 'Ours') { 'our agent' } else { 'qemu-ga' }) | $(Format-BenchNumber $m[$k].Copy) | $(Format-BenchNumber $m[$k].Sync) | $(Format-BenchNumber $m[$k].None) | $(Format-BenchNumber ($m[$k].Copy / $m[$k].Sync)) |"
    }
) -join "`n"
[pscustomobject]@{ Rows = $rows; Detail = $detail }
