<#
.SYNOPSIS
    PowerShell Direct (issue 20): round trip of an empty script block and of 10,000 small objects
    (`1..10000 | % { [pscustomobject]@{ N = $_ } }`), through a New-VMGuestPSSession session and
    one-shot Invoke-VMGuestScriptBlock on our agent, beside Invoke-VMGuestScript -ScriptType
    PowerShell (text output; our agent and Debian's qemu-ga) and beside pwsh SSH remoting to
    localhost (a private sshd, tools/PrivateSshd.psm1). The "guest" is this machine; its
    PowerShell is this pwsh, behind a launcher named pwsh on the agents' PATH. Returns rows and
    a detail section for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/psdirect/Invoke-PSDirectBench.ps1 -ModulePath out/QemuGuest -AgentPath src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $AgentPath,
    [switch] $Quick
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
Import-Module (Join-Path $PSScriptRoot '../../tools/PrivateSshd.psm1') -Force
Import-Module (Join-Path (Resolve-Path $ModulePath).Path 'QemuGuest.psd1') -Force

# Warm sessions: many empty calls, few 10,000-object calls; one-shot paths start a PowerShell
# each time, so fewer repetitions. Medians are reported.
$emptyReps = if ($Quick) { 3 } else { 20 }
$bulkReps = if ($Quick) { 1 } else { 3 }
$shotReps = if ($Quick) { 1 } else { 3 }
$bulkBlock = { 1..10000 | ForEach-Object { [pscustomobject]@{ N = $_ } } }
$bulkText = '1..10000 | ForEach-Object { [pscustomobject]@{ N = $_ } }'

# The guest's PowerShell: the PowerShell Direct suites' launcher (one copy, in AgentHelpers).
. (Join-Path $PSScriptRoot '../../tests/pester/AgentHelpers.ps1')
$guestPwsh = New-GuestPwshLauncher -Prefix 'qg-bench-psd-'
$guestDir = Split-Path $guestPwsh

# Milliseconds of each run of $Action (a script block returning the objects it received);
# $Check validates every run, so a broken path cannot produce a fast figure.
function Measure-Runs([string] $Key, [int] $Count, [scriptblock] $Action, [scriptblock] $Check) {
    for ($i = 0; $i -lt $Count; $i++) {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $r = & $Action
        $ms = $sw.Elapsed.TotalMilliseconds
        if (-not (& $Check $r)) { throw "$Key`: a run returned the wrong result: $(((@($r | Select-Object -First 3) -join ', ') + ' ').Substring(0, 200)) ($(@($r).Count) objects)" }
        $ms
    }
}
$isEmpty = { param($r) $null -eq $r }
$isBulk = { param($r) @($r).Count -eq 10000 -and $r[9999].N -eq 10000 }
# Invoke-VMGuestScript returns the guest's formatted text: 10,000 rows of a one-column table,
# sized on the first rows, so from 1000 on a number arrives cut to its last digits ("…00").
$isText = { param($r) $r.ExitCode -eq 0 -and -not $r.StdOut.Trim() }
$isBulkText = { param($r) $r.ExitCode -eq 0 -and @($r.StdOut -split "`n" | Where-Object { $_ -match '^\s*…?\d+\s*$' }).Count -eq 10000 }

$m = [ordered]@{}
function Add-Figure([string] $Key, [double[]] $Runs) {
    $m[$Key] = Get-Median $Runs
    Write-Host ('  {0,-40} median {1,10:N1} ms of {2}' -f $Key, $m[$Key], $Runs.Count)
}

# A session's opening once, then its empty and 10,000-object round trips, then its removal.
function Measure-WarmSession([string] $Key, [scriptblock] $Open) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $session = & $Open
    $m["$Key open"] = $sw.Elapsed.TotalMilliseconds
    try {
        $null = Invoke-Command -Session $session { $PID }
        Add-Figure "$Key empty" (Measure-Runs "$Key empty" $emptyReps { Invoke-Command -Session $session {} } $isEmpty)
        Add-Figure "$Key bulk" (Measure-Runs "$Key bulk" $bulkReps { Invoke-Command -Session $session $bulkBlock } $isBulk)
    }
    finally { Remove-PSSession $session }
}

$savedPath = $env:PATH
$env:PATH = "$guestDir$([IO.Path]::PathSeparator)$savedPath"
$ours = $null; $stock = $null; $sshd = $null
try {
    $ours = Start-BenchAgent -Kind Ours -AgentPath $AgentPath
    $stock = Start-BenchAgent -Kind Stock
    $env:PATH = $savedPath
    $gs = New-VMGuestSession -ConnectionString $ours.ConnectionString -Name bench-ours
    $gstock = New-VMGuestSession -ConnectionString $stock.ConnectionString -Name bench-stock

    Measure-WarmSession 'direct' { New-VMGuestPSSession -Session $gs -PowerShellPath $guestPwsh -ErrorAction Stop }

    Add-Figure 'shot empty' (Measure-Runs 'shot empty' $shotReps { Invoke-VMGuestScriptBlock -Session $gs -PowerShellPath $guestPwsh {} -ErrorAction Stop } $isEmpty)
    Add-Figure 'shot bulk' (Measure-Runs 'shot bulk' $shotReps { Invoke-VMGuestScriptBlock -Session $gs -PowerShellPath $guestPwsh $bulkBlock -ErrorAction Stop } $isBulk)

    foreach ($k in @(@{ Key = 'script ours'; S = $gs }, @{ Key = 'script stock'; S = $gstock })) {
        $s = $k.S
        Add-Figure "$($k.Key) empty" (Measure-Runs "$($k.Key) empty" $shotReps { Invoke-VMGuestScript -Session $s -ScriptType PowerShell -ScriptText '$null' -Timeout 300 -Confirm:$false } $isText)
        Add-Figure "$($k.Key) bulk" (Measure-Runs "$($k.Key) bulk" $shotReps { Invoke-VMGuestScript -Session $s -ScriptType PowerShell -ScriptText $bulkText -Timeout 300 -Confirm:$false } $isBulkText)
    }

    $sshd = Start-PrivateSshd
    $remote = $sshd.Remote
    Measure-WarmSession 'ssh' { New-PSSession @remote -ErrorAction Stop }
    Add-Figure 'ssh shot empty' (Measure-Runs 'ssh shot empty' $shotReps { Invoke-Command @remote {} } $isEmpty)
    Add-Figure 'ssh shot bulk' (Measure-Runs 'ssh shot bulk' $shotReps { Invoke-Command @remote $bulkBlock } $isBulk)
}
finally {
    $env:PATH = $savedPath
    Get-VMGuestSession | Where-Object Name -In 'bench-ours', 'bench-stock' | Remove-VMGuestSession -Confirm:$false
    $sshd | Stop-PrivateSshd
    $ours, $stock | Stop-BenchProcess
    Remove-Item -Recurse -Force $guestDir -ErrorAction SilentlyContinue
}

$agentNote = if ($AgentPath -like '*.dll') { 'JIT build via dotnet' } else { 'NativeAOT' }
$cmd = "dotnet pwsh -File bench/psdirect/Invoke-PSDirectBench.ps1 -ModulePath out/QemuGuest -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' })$(if ($Quick) { ' -Quick' })"
# Stock qemu-ga cannot carry a PSSession (no stdin streaming): its column is the text path.
$rows = @(
    New-BenchRow -Area psdirect -What 'empty script block, PowerShell Direct session (stock: Invoke-VMGuestScript -ScriptType PowerShell), ms' -Unit 'ms' -Better lower -Ours $m['direct empty'] -Stock $m['script stock empty'] -Command $cmd
    New-BenchRow -Area psdirect -What '10,000 [pscustomobject]s, PowerShell Direct session, objects (stock: Invoke-VMGuestScript, text), ms' -Unit 'ms' -Better lower -Ours $m['direct bulk'] -Stock $m['script stock bulk'] -Command $cmd
    New-BenchRow -Area psdirect -What 'Invoke-VMGuestScript -ScriptType PowerShell, empty, text, ms' -Unit 'ms' -Better lower -Ours $m['script ours empty'] -Stock $m['script stock empty'] -Command $cmd
    New-BenchRow -Area psdirect -What 'Invoke-VMGuestScript -ScriptType PowerShell, 10,000 objects as text, ms' -Unit 'ms' -Better lower -Ours $m['script ours bulk'] -Stock $m['script stock bulk'] -Command $cmd
)
$f = { param($k) Format-BenchNumber $m[$k] }
$detail = @(
    '### PowerShell Direct (issue 20)'
    ''
    "Round trips, ms, medians ($emptyReps empty calls and $bulkReps 10,000-object calls on a warm session; $shotReps of each one-shot path). The guest is this"
    "machine; its PowerShell is this repository's pwsh $($PSVersionTable.PSVersion) (dotnet pwsh.dll behind a launcher). Our agent: $agentNote. 10,000 objects:"
    '`1..10000 | % { [pscustomobject]@{ N = $_ } }`, checked on every run (count and last value; for text, 10,000 number lines).'
    'The text path is also lossy: the guest formats a table sized on its first rows, so 1000 and up arrive as `…00`.'
    ''
    '| path | empty script block | 10,000 objects | opening the session |'
    '|---|---:|---:|---:|'
    "| PowerShell Direct: Invoke-Command -Session (New-VMGuestPSSession, our agent), objects | $(& $f 'direct empty') | $(& $f 'direct bulk') | $(& $f 'direct open') |"
    "| Invoke-VMGuestScriptBlock -Session (one shot: starts and ends the guest pwsh), objects | $(& $f 'shot empty') | $(& $f 'shot bulk') | — |"
    "| Invoke-VMGuestScript -ScriptType PowerShell, our agent, text | $(& $f 'script ours empty') | $(& $f 'script ours bulk') | — |"
    "| Invoke-VMGuestScript -ScriptType PowerShell, stock qemu-ga, text | $(& $f 'script stock empty') | $(& $f 'script stock bulk') | — |"
    "| pwsh SSH remoting to localhost: Invoke-Command -Session (New-PSSession -HostName), objects | $(& $f 'ssh empty') | $(& $f 'ssh bulk') | $(& $f 'ssh open') |"
    "| pwsh SSH remoting to localhost, one shot: Invoke-Command -HostName, objects | $(& $f 'ssh shot empty') | $(& $f 'ssh shot bulk') | — |"
    ''
    "Command: ``$cmd``"
) -join "`n"
[pscustomobject]@{ Rows = $rows; Detail = $detail }
