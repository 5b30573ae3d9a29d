<#
.SYNOPSIS
    Runs every benchmark and writes bench/RESULTS.md.
.DESCRIPTION
    Called by `build.ps1 Bench`. Each benchmark is a script `bench/<area>/Invoke-*Bench.ps1`
    that prints one markdown section (a table, the command that produced it, and its
    comparison with the stock qemu-ga measured in the same run). This script runs them in
    order, adds the machine facts, and writes RESULTS.md. Timings are never asserted.
#>
param(
    [ValidateSet('Debug', 'Release')] [string] $Configuration = 'Release',
    # The laid-out module (build.ps1 Package) for benchmarks that drive the cmdlets.
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/QemuGuest'),
    # Limits the run to areas whose folder name matches (e.g. 'micro', 'transfer').
    [string[]] $Area = @('*')
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

$benchRoot = $PSScriptRoot
$results = Join-Path $benchRoot 'RESULTS.md'
$sections = [System.Collections.Generic.List[string]]::new()

$cpu = (Get-Content /proc/cpuinfo -ErrorAction SilentlyContinue | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''
$memKb = ((Get-Content /proc/meminfo -ErrorAction SilentlyContinue | Where-Object { $_ -like 'MemTotal*' }) -replace '\D', '')
$qga = & /usr/sbin/qemu-ga -V 2>&1 | Select-Object -First 1
$machine = @(
    "- date: $([DateTime]::UtcNow.ToString('yyyy-MM-dd HH:mm')) UTC"
    "- CPU: $cpu, $([Environment]::ProcessorCount) cores; memory: $([math]::Round([double]$memKb / 1MB, 1)) GiB"
    "- OS: $((Get-Content /etc/os-release | Where-Object { $_ -like 'PRETTY_NAME=*' }) -replace 'PRETTY_NAME=|\"', '')"
    "- .NET: $([Environment]::Version); PowerShell $($PSVersionTable.PSVersion); stock agent: $qga"
) -join "`n"

$scripts = Get-ChildItem -Path $benchRoot -Directory | Where-Object {
    $name = $_.Name
    @($Area | Where-Object { $name -like $_ }).Count -gt 0
} | ForEach-Object { Get-ChildItem -Path $_.FullName -Filter 'Invoke-*Bench.ps1' -File } | Sort-Object FullName

if (@($scripts).Count -eq 0) {
    throw "no benchmark scripts found under $benchRoot (bench/<area>/Invoke-*Bench.ps1)"
}

foreach ($s in $scripts) {
    Write-Host "==> bench: $([IO.Path]::GetRelativePath($benchRoot, $s.FullName))" -ForegroundColor Cyan
    # Each script takes what it declares: -Configuration, -ModulePath, and -OutFile when it
    # writes its own bench/<area>.md (that file is then its section).
    $declared = (Get-Command $s.FullName).Parameters
    $arguments = @{}
    if ($declared.ContainsKey('Configuration')) { $arguments.Configuration = $Configuration }
    if ($declared.ContainsKey('ModulePath')) { $arguments.ModulePath = (Resolve-Path $ModulePath).Path }
    $outFile = $null
    if ($declared.ContainsKey('OutFile')) {
        $outFile = Join-Path $benchRoot ($s.Directory.Name + '.md')
        $arguments.OutFile = $outFile
    }
    $text = & $s.FullName @arguments | Out-String
    if ($outFile -and (Test-Path $outFile)) { $text = Get-Content -Raw $outFile }
    $sections.Add(($text.TrimEnd() -replace '(?m)^# ', '## '))
}

$body = @(
    '# Benchmark results'
    ''
    'Written by `dotnet pwsh ./build.ps1 Bench` (bench/Invoke-Bench.ps1). Every comparison in a'
    'table was measured in the same run on the same machine. Timings are never asserted in tests.'
    ''
    '## Machine'
    ''
    $machine
    ''
    ($sections -join "`n`n")
) -join "`n"
Set-Content -Path $results -Value $body
Write-Host "wrote $results"
