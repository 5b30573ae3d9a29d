<#
.SYNOPSIS
    Polls of an idle PowerShell Direct session and its round trips (issue 20), for one module build
    per process (run it alternately on two builds in the same run): the exec-reads the module sends
    are counted on a socat -v proxy between it and our agent (JIT Release build, tools/LocalAgent.psm1).
    Prints one line: idle exec-reads per second over -IdleSec, the median and least of -Empty empty
    Invoke-Commands, and how late output the guest sends after 8 s of quiet arrives (two calls).
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/psdirect/Measure-IdlePolls.ps1 -ModulePath out/QemuGuest -Label after
#>
param([Parameter(Mandatory)] [string] $ModulePath, [int] $IdleSec = 20, [int] $Empty = 20, [string] $Label = '')
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot '../../tools/LocalAgent.psm1')
Import-Module (Join-Path (Resolve-Path $ModulePath).Path 'QemuGuest.psd1')
. (Join-Path $PSScriptRoot '../../tests/pester/AgentHelpers.ps1')
$launcher = New-GuestPwshLauncher -Prefix 'qg-bench-idle-'
$agent = Start-LocalAgent -Kind Ours
$sock = $agent.ConnectionString -replace '^unix:', ''
$proxy = Join-Path (Split-Path $launcher) 'proxy.sock'
$log = "$proxy.log"
$socat = Start-Process socat -ArgumentList '-v', "UNIX-LISTEN:$proxy,fork", "UNIX-CONNECT:$sock" -RedirectStandardError $log -PassThru
Wait-Until { Test-Path $proxy } 30 -What 'socat proxy'
function Get-Reads { @(Select-String -Path $log -Pattern 'guest-exec-read' -AllMatches | ForEach-Object { $_.Matches }).Count }
try {
    $s = New-VMGuestSession -ConnectionString "unix:$proxy" -Name "idle$Label"
    $p = New-VMGuestPSSession -Session $s -PowerShellPath $launcher
    $null = Invoke-Command -Session $p { $PID }
    Start-Sleep 1
    $r0 = Get-Reads; $sw = [Diagnostics.Stopwatch]::StartNew()
    Start-Sleep $IdleSec
    $r1 = Get-Reads; $idle = $sw.Elapsed.TotalSeconds
    $t = foreach ($i in 1..$Empty) { $sw = [Diagnostics.Stopwatch]::StartNew(); Invoke-Command -Session $p {}; $sw.Elapsed.TotalMilliseconds }
    $t = $t | Sort-Object
    # Output the guest sends unasked after 8 s of quiet: its delay past the sleep.
    $late = foreach ($i in 1..2) { $sw = [Diagnostics.Stopwatch]::StartNew(); $null = Invoke-Command -Session $p { Start-Sleep 8; 'x' }; $sw.Elapsed.TotalMilliseconds - 8000 }
    '{0,-7} idle exec-reads/s {1,5:N2} ({2} in {3:N1} s); empty round trip median {4,6:N1} ms min {5,6:N1}; after 8 s quiet: +{6} ms; load {7}' -f $Label, (($r1 - $r0) / $idle), ($r1 - $r0), $idle, $t[[int]($t.Count / 2)], $t[0], (($late | ForEach-Object { [int]$_ }) -join '/'), ((Get-Content /proc/loadavg) -split ' ')[0]
    $p | Remove-PSSession
}
finally {
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false
    $agent | Stop-LocalAgent
    Stop-Process -Id $socat.Id -ErrorAction SilentlyContinue
    Remove-Item -Recurse -Force (Split-Path $launcher) -ErrorAction SilentlyContinue
}
