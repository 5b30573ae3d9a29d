<#
.SYNOPSIS
    Runs every tests/pester/*.Tests.ps1 against the laid-out module and writes the counts.
.DESCRIPTION
    Called by build.ps1 Test in a fresh pwsh so the module under test loads into a clean
    session. The suites find the module through $env:QEMUGUEST_MODULE_PATH (out/QemuGuest),
    never through bin/.
#>
param(
    [Parameter(Mandatory)] [string] $PesterPath,
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $RepositoryPath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [string[]] $Path = @($PSScriptRoot)
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force

$env:QEMUGUEST_MODULE_PATH = (Resolve-Path $ModulePath).Path
$env:QEMUGUEST_REPOSITORY_PATH = (Resolve-Path $RepositoryPath).Path
$env:QEMUGUEST_REPO_ROOT = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
# New runspaces (ForEach-Object -Parallel, thread jobs) find the module by name, from the layout.
$env:PSModulePath = (Split-Path $env:QEMUGUEST_MODULE_PATH -Parent) + [IO.Path]::PathSeparator + $env:PSModulePath

# Child pwsh processes in the suites must print plain text (ANSI escapes are invalid in the XML report).
$env:NO_COLOR = "1"
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.TestResult.Enabled = $true
$config.TestResult.OutputPath = [IO.Path]::ChangeExtension($ResultPath, '.xml')
$config.TestResult.OutputFormat = 'NUnitXml'

$result = Invoke-Pester -Configuration $config
$counts = [ordered]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount + $result.NotRunCount
}
$counts | ConvertTo-Json | Set-Content -Path $ResultPath
if ($counts.Failed -gt 0) { exit 1 }
exit 0
