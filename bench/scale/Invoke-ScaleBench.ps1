<#
.SYNOPSIS
    One pwsh driving many agents at once through the relay: Copy-VMGuestFile -VMName with every
    VM name in one call (-ThrottleLimit = the number of VMs), 8 MiB to each. Total time, peak
    RSS of that pwsh and of the relay; once with our agents, once with Debian's qemu-ga.
    Returns rows and a detail section for bench/Invoke-Bench.ps1.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/scale/Invoke-ScaleBench.ps1 -ModulePath out/QemuGuest -AgentPath out/bench/aot/qemuguest-agent
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $AgentPath,
    [string] $Configuration = 'Release',
    [switch] $Quick,
    [int] $Count = 100,
    [int] $SizeMiB = 8
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0
Import-Module (Join-Path $PSScriptRoot '../BenchCommon.psm1') -Force
if ($Quick) { $Count = 3; $SizeMiB = 1 }
$relayPath = Get-RelayPath $Configuration
$module = (Resolve-Path $ModulePath).Path
# Under 'dotnet pwsh' this process is dotnet itself; the tool ships its own apphost.
$pwsh = Join-Path $PSHOME 'pwsh'

# The driving pwsh is a fresh child so that its VmHWM is the peak of this copy alone. Each
# local agent runs in its own working directory and /proc/self/cwd is that folder for the
# process that opens it, so the one absolute destination lands in a separate directory per
# "VM", as it would in separate guests (a relative guest path is refused: RelativeGuestPath).
$child = @'
param($ModulePath, $RelayDir, $Source, $SizeBytes, [string] $NameList)
# One argument through -File: the names come comma-separated.
$Names = @($NameList -split ',')
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$env:QEMUGUEST_RELAY_DIR = $RelayDir
Import-Module $ModulePath
$sw = [Diagnostics.Stopwatch]::StartNew()
$r = @(Copy-VMGuestFile -VMName $Names -LocalToGuest -Source $Source -Destination '/proc/self/cwd/scale.bin' -Force -PassThru -ThrottleLimit $Names.Count)
$seconds = $sw.Elapsed.TotalSeconds
$bad = @($r | Where-Object { $_.Bytes -ne $SizeBytes })
if ($r.Count -ne $Names.Count -or $bad.Count) { throw "expected $($Names.Count) copies of $SizeBytes bytes, got $($r.Count) ($($bad.Count) of the wrong size)" }
$hwm = [long](((Get-Content /proc/self/status) | Where-Object { $_ -like 'VmHWM:*' }) -replace '\D', '')
'{0} {1}' -f $seconds, $hwm
'@
$work = Join-Path ([IO.Path]::GetTempPath()) ('qg-bench-scale-' + [guid]::NewGuid().ToString('n').Substring(0, 8))
$null = New-Item -ItemType Directory -Path $work
$script = Join-Path $work 'drive.ps1'
Set-Content -Path $script -Value $child
$src = Join-Path $work 'src.bin'
New-BenchData -Path $src -Bytes ([long]$SizeMiB * 1MB)

$m = @{}
try {
    foreach ($kind in 'Ours', 'Stock') {
        $sockets = Join-Path $work "sockets-$kind"
        $null = New-Item -ItemType Directory -Path $sockets
        $names = @(1..$Count | ForEach-Object { 'vm{0:d3}' -f $_ })
        $agents = [Collections.Generic.List[object]]::new()
        $relay = $null
        try {
            foreach ($n in $names) { $agents.Add((Start-BenchAgent -Kind $kind -AgentPath $AgentPath -Socket (Join-Path $sockets "$n.sock"))) }
            $agentRss = ($agents | ForEach-Object { (Get-ProcessMemory $_.Pid).RssKiB } | Measure-Object -Sum).Sum
            $relay = Start-BenchRelay -RelayPath $relayPath -DiscoveryDirectory $sockets -ExpectVms $names -TimeoutSeconds 60
            $out = & $pwsh -NoProfile -NonInteractive -File $script $module $relay.RuntimeDirectory $src ([long]$SizeMiB * 1MB) ($names -join ',')
            if ($LASTEXITCODE -ne 0) { throw "the driving pwsh failed ($LASTEXITCODE): $out" }
            $seconds, $hwm = ($out | Select-Object -Last 1) -split ' '
            foreach ($a in $agents) {
                if ((Get-Item (Join-Path $a.Directory 'scale.bin')).Length -ne [long]$SizeMiB * 1MB) { throw "agent $($a.Socket): scale.bin has the wrong size" }
            }
            $relayMem = Get-ProcessMemory $relay.Pid
            $m[$kind] = [pscustomobject]@{ Seconds = [double]$seconds; PwshHwmKiB = [long]$hwm; RelayHwmKiB = $relayMem.HwmKiB; AgentsRssKiB = $agentRss }
            Write-Host ('  {0,-6} {1} agents x {2} MiB: {3,6:N2} s ({4,6:N1} MiB/s total), pwsh peak {5:N0} MiB, relay peak {6:N0} MiB' -f $kind, $Count, $SizeMiB, [double]$seconds, ($Count * $SizeMiB / [double]$seconds), ($hwm / 1024), ($relayMem.HwmKiB / 1024))
        }
        finally {
            $relay | Stop-BenchProcess
            $agents | Stop-BenchProcess
        }
    }
}
finally { Remove-Item -Recurse -Force $work -ErrorAction SilentlyContinue }

$cmd = "dotnet pwsh -File bench/scale/Invoke-ScaleBench.ps1 -ModulePath out/QemuGuest -AgentPath $(if ($AgentPath -like '*.dll') { 'src/QemuGuest.Agent/bin/Release/net10.0/qemuguest-agent.dll' } else { 'out/bench/aot/qemuguest-agent' }) -Count $Count -SizeMiB $SizeMiB"
$what = "$Count agents, $SizeMiB MiB to each, one Copy-VMGuestFile -VMName call through the relay"
$rows = @(
    New-BenchRow -Area scale -What "${what}: total s, our agents vs qemu-ga" -Unit 's' -Better lower -Ours $m['Ours'].Seconds -Stock $m['Stock'].Seconds -Command $cmd
    New-BenchRow -Area scale -What "${what}: peak RSS of the driving pwsh, MiB" -Unit 'MiB' -Better lower -Ours ($m['Ours'].PwshHwmKiB / 1024) -Stock ($m['Stock'].PwshHwmKiB / 1024) -Command $cmd
    New-BenchRow -Area scale -What "${what}: peak RSS of the relay, MiB" -Unit 'MiB' -Better lower -Ours ($m['Ours'].RelayHwmKiB / 1024) -Stock ($m['Stock'].RelayHwmKiB / 1024) -Command $cmd
    New-BenchRow -Area scale -What "$Count idle agents, total RSS, MiB" -Unit 'MiB' -Better lower -Ours ($m['Ours'].AgentsRssKiB / 1024) -Stock ($m['Stock'].AgentsRssKiB / 1024) -Command $cmd
)
$detail = @(
    '### Scale'
    ''
    "$Count local agents (unix-listen, one socket each in one directory), one relay discovering them (``Discovery:Directories``),"
    "one fresh pwsh running ``Copy-VMGuestFile -VMName vm001..vm$('{0:d3}' -f $Count) -LocalToGuest -ThrottleLimit $Count`` with $SizeMiB MiB."
    'Peak RSS = VmHWM of the pwsh (read by itself at the end) and of the relay (read before stopping it).'
    ''
    '| agents | total s | aggregate MiB/s | pwsh peak MiB | relay peak MiB | all agents idle RSS MiB |'
    '|---|---:|---:|---:|---:|---:|'
    foreach ($k in 'Ours', 'Stock') {
        $name = if ($k -eq 'Ours') { 'ours' } else { 'qemu-ga' }
        "| $Count × $name | $(Format-BenchNumber $m[$k].Seconds) | $(Format-BenchNumber ($Count * $SizeMiB / $m[$k].Seconds)) | $(Format-BenchNumber ($m[$k].PwshHwmKiB / 1024)) | $(Format-BenchNumber ($m[$k].RelayHwmKiB / 1024)) | $(Format-BenchNumber ($m[$k].AgentsRssKiB / 1024)) |"
    }
) -join "`n"
[pscustomobject]@{ Rows = $rows; Detail = $detail }
