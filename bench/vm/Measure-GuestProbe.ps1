<#
.SYNOPSIS
    Charges QEMU's host CPU seconds to single phases of the guest's work in a TCG VM (issue 19):
    CRC32C of N MiB with the SSE4.2 instruction and with slicing by 8 (the two paths of
    Crc32C), N MiB written to tmpfs, and an empty run (the guest-exec's own cost). Host CPU
    seconds, unlike wall time, hardly depend on the host's load. Needs gcc (static glibc).
.EXAMPLE
    dotnet pwsh ./build.ps1 Package
    dotnet pwsh -NoProfile -File bench/vm/Measure-GuestProbe.ps1 -ModulePath out/QemuGuest -MiB 64
#>
param([Parameter(Mandatory)] [string] $ModulePath, [ValidateRange(1, 512)] [int] $MiB = 64, [ValidateRange(1, 10)] [int] $Rounds = 2, [string] $AgentBinary)
$ErrorActionPreference = 'Stop'
$repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
Import-Module (Join-Path $repo 'tests/e2e/E2eVm.psm1') -Force
Import-Module (Resolve-Path $ModulePath).Path -Force
$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-guestprobe-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$probe = Join-Path $work 'guest-probe'
& gcc -O2 -static -o $probe (Join-Path $PSScriptRoot 'guest-probe.c')
if ($LASTEXITCODE -ne 0) { throw "GuestProbeBuild: gcc failed ($LASTEXITCODE)" }
$image = if ($AgentBinary) { New-E2eImage -AgentBinary (Resolve-Path $AgentBinary).Path } else { New-E2eImage }
$vm = Start-E2eVm -Image $image -Agent Ours -Name 'guestprobe' -MemoryMiB 1024 -BootTimeoutSec 600
function Get-QemuCpuSeconds { $f = ((Get-Content -Raw "/proc/$($vm.Pid)/stat") -replace '^.*\) ', '') -split ' '; ([long] $f[11] + [long] $f[12]) / 100.0 }
try {
    "boot $($vm.BootSeconds) s; $(& qemu-system-x86_64 --version | Select-Object -First 1)"
    $s = New-VMGuestSession -ConnectionString $vm.ConnectionString -Name guestprobe -ConnectTimeoutSec 60
    Copy-VMGuestFile -Session $s -LocalToGuest -Source $probe -Destination /tmp/guest-probe -Force
    $null = Invoke-VMGuestCommand -Session $s chmod -ArgumentList '+x', '/tmp/guest-probe' -Timeout 120
    foreach ($round in 1..$Rounds) {
        foreach ($mode in 'none', 'hw', 'sw', 'tmpfs') {
            $load = (Get-Content /proc/loadavg) -split ' ' | Select-Object -First 1
            $c0 = Get-QemuCpuSeconds; $w = [Diagnostics.Stopwatch]::StartNew()
            $r = Invoke-VMGuestCommand -Session $s /tmp/guest-probe -ArgumentList $mode, "$MiB" -Timeout 600
            $c1 = Get-QemuCpuSeconds
            if ($r.ExitCode -ne 0) { throw "GuestProbeFailed: $mode exited with $($r.ExitCode): $($r.StdErr)" }
            "round $round $mode $MiB MiB: QEMU CPU {0:N2} s, wall {1:N1} s, load $load, $($r.StdOut.Trim())" -f ($c1 - $c0), $w.Elapsed.TotalSeconds
        }
    }
    $s | Remove-VMGuestSession -Confirm:$false
}
finally {
    $vm | Stop-E2eVm
    Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue
}
