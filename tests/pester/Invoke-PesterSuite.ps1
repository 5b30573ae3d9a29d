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
# New runspaces (ForEach-Object -Parallel, thread jobs) find the module by name, from the layout:
# through a link in a folder that holds nothing else. The module's own parent, out/, also holds the
# Wine prefixes (out/wine/prefixes), whose drive z: is a link to /, and PowerShell's module
# discovery runs for any command not loaded yet (Out-String in HelpExamples' CreateDefault2
# runspace): it walked the whole file system through z:, and HelpExamples grew to 8 GB RSS at
# its first example without finishing.
$moduleFolder = Join-Path ([IO.Path]::GetTempPath()) ('qg-psmodulepath-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
$null = New-Item -ItemType Directory -Path $moduleFolder
$moduleLink = Join-Path $moduleFolder (Split-Path $env:QEMUGUEST_MODULE_PATH -Leaf)
$null = New-Item -ItemType SymbolicLink -Path $moduleLink -Target $env:QEMUGUEST_MODULE_PATH
$env:PSModulePath = $moduleFolder + [IO.Path]::PathSeparator + $env:PSModulePath

# Child pwsh processes in the suites must print plain text (ANSI escapes are invalid in the XML report).
$env:NO_COLOR = "1"
$config = New-PesterConfiguration
$config.Run.Path = $Path
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.TestResult.Enabled = $true
$config.TestResult.OutputPath = [IO.Path]::ChangeExtension($ResultPath, '.xml')
$config.TestResult.OutputFormat = 'NUnitXml'

try {
    $result = Invoke-Pester -Configuration $config
}
finally {
    # The link itself, never what it points to.
    [IO.Directory]::Delete($moduleLink)
    [IO.Directory]::Delete($moduleFolder)
}
$counts = [ordered]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount + $result.NotRunCount
}
$counts | ConvertTo-Json | Set-Content -Path $ResultPath
if ($counts.Failed -gt 0) { exit 1 }
exit 0
