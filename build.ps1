#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, lays out, tests, demonstrates and benchmarks QemuGuest.

.DESCRIPTION
    One entry point for developers and CI. Run it through the repository's local tool
    manifest so the pinned PowerShell is used:

        dotnet tool restore && dotnet pwsh ./build.ps1 <Task>

    Each task installs what it needs (Debian packages, NuGet restore, Pester) idempotently.
    Run without a task, or with an unknown one, to list the tasks.

.PARAMETER Task
    The task to run. See the task table printed by `./build.ps1 Help`.

.PARAMETER Configuration
    Build configuration (Release by default).

.PARAMETER VM
    Demo only: run the demo against a real QEMU VM instead of a local agent.

.PARAMETER Target
    Fuzz only: the fuzz targets to run (default: all of reader, agent-dispatch,
    relay-validation, qapi-parser).

.PARAMETER FuzzSeconds
    Fuzz only: afl-fuzz's time budget per target, in seconds (default 180).

.PARAMETER Quick
    Bench only: run each benchmark area once with small sizes, writing out/bench/RESULTS.md.

.PARAMETER BenchArea
    Bench only: the areas to run (see bench/Invoke-Bench.ps1); a partial run writes out/bench/RESULTS.md.
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [string] $Task = 'Help',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    [switch] $VM,

    # Comma-separated works too: `dotnet pwsh ./build.ps1 Fuzz -Target reader,qapi-parser` passes one string.
    [string[]] $Target = @('reader', 'agent-dispatch', 'relay-validation', 'qapi-parser'),

    [ValidateRange(10, 86400)]
    [int] $FuzzSeconds = 180,

    # Bench only: each area once with small sizes (a harness check; figures meaningless).
    [switch] $Quick,

    # Bench only: areas to run (transfer, latency, agent, module, scale, micro; vm when named).
    [string[]] $BenchArea = @('*')
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$Root = $PSScriptRoot
$OutDir = Join-Path $Root 'out'
$ModuleOut = Join-Path $OutDir 'QemuGuest'
$RepoOut = Join-Path $OutDir 'repo'
$TestResults = Join-Path $OutDir 'test-results'

# The module folder's allow-list: exactly these files are copied from the build, and a
# missing one fails the Package task. Paths relative to out/QemuGuest.
$ModuleRootFiles = @(
    'QemuGuest.psd1'
    'LICENSE'
    'QemuGuest.Cmdlets.dll'
    'QemuGuest.Format.ps1xml'
    'en-US/about_QemuGuest.help.txt'
    'en-US/about_QemuGuest_PSDirect.help.txt'
    'en-US/about_QemuGuest_Provider.help.txt'
    'en-US/QemuGuest.Cmdlets.dll-Help.xml'
)
# Everything the cmdlets need at run time, loaded privately from Dependencies/ (see
# src/QemuGuest.Cmdlets/Loading/ModuleLoader.cs). The publish output must contain exactly these.
$ModuleDependencyFiles = @(
    'QemuGuest.Protocol.dll'
    'System.Text.Json.dll'
    'System.Text.Encodings.Web.dll'
    'System.IO.Pipelines.dll'
    'System.Threading.Channels.dll'
    'Microsoft.Bcl.AsyncInterfaces.dll'
    'System.Memory.dll'
    'System.Buffers.dll'
    'System.Numerics.Vectors.dll'
    'System.Runtime.CompilerServices.Unsafe.dll'
    'System.Threading.Tasks.Extensions.dll'
)
# Build-only or platform files that publish emits but the module must not ship.
$ModuleIgnoredPublishFiles = @(
    'QemuGuest.Cmdlets.deps.json'
    'QemuGuest.Cmdlets.pdb'
    'QemuGuest.Cmdlets.xml'
    'QemuGuest.Protocol.pdb'
    'QemuGuest.Protocol.xml'
    'System.Runtime.Loader.dll'
)

# What each task needs from the machine (Debian packages, found by tool and by dpkg state) is
# declared in tools/Prerequisites.psm1; each task checks its own before doing anything else.
Import-Module (Join-Path $Root 'tools/Prerequisites.psm1') -Force

# ---------------------------------------------------------------------------------------
# Task table: name → synopsis + script block. Order is the order shown by Help.
# ---------------------------------------------------------------------------------------
$Tasks = [ordered]@{}
function Add-Task([string] $Name, [string] $Synopsis, [scriptblock] $Body) {
    $Tasks[$Name] = [pscustomobject]@{ Name = $Name; Synopsis = $Synopsis; Body = $Body }
}

function Write-Step([string] $Message) {
    Write-Host "==> $Message" -ForegroundColor Cyan
}

function Invoke-Native {
    # Runs a native command and fails the task on a non-zero exit code.
    param([string] $File, [string[]] $Arguments, [string] $What = $File)
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed with exit code $LASTEXITCODE"
    }
}

function Get-ProductVersion {
    [xml] $props = Get-Content -Raw (Join-Path $Root 'Directory.Build.props')
    $v = $props.Project.PropertyGroup | ForEach-Object { $_.VersionPrefix } | Where-Object { $_ } | Select-Object -First 1
    if (-not $v) { throw 'VersionPrefix not found in Directory.Build.props' }
    return [string] $v
}

function Get-PesterModulePath {
    # Pester comes from its NuGet package, restored by the ordinary NuGet client.
    $nugetRoot = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages' }
    $psd1 = Join-Path $nugetRoot 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $psd1)) {
        Write-Step 'Restoring Pester 5.7.1 from NuGet'
        Invoke-Native 'dotnet' @('restore', (Join-Path $Root 'build/Tools.csproj'), '--nologo', '-v', 'q') 'restore of build/Tools.csproj'
    }
    if (-not (Test-Path $psd1)) { throw "Pester not found at $psd1 after restore" }
    return $psd1
}

function Invoke-Build {
    Write-Step "Building QemuGuest.slnx ($Configuration)"
    Invoke-Native 'dotnet' @('build', (Join-Path $Root 'QemuGuest.slnx'), '-c', $Configuration, '--nologo', '-v', 'q', '-clp:ErrorsOnly;Summary') 'dotnet build'
}

function Get-ModuleCmdletNames([string] $DllPath) {
    # Read cmdlet names from metadata in a child process so the dll is not locked here.
    $script = @'
param($dll)
$asm = [System.Reflection.Assembly]::LoadFile($dll)
$names = foreach ($t in $asm.GetExportedTypes()) {
    $a = $t.GetCustomAttributes([System.Management.Automation.CmdletAttribute], $false)
    if ($a) { '{0}-{1}' -f $a[0].VerbName, $a[0].NounName }
}
$names | Sort-Object
'@
    $tmp = Join-Path ([IO.Path]::GetTempPath()) "qg-cmdlets-$PID.ps1"
    Set-Content -Path $tmp -Value $script
    try {
        $names = & (Get-PwshPath) -NoProfile -NonInteractive -File $tmp $DllPath
        if ($LASTEXITCODE -ne 0) { throw "could not read cmdlets from $DllPath" }
        return @($names)
    }
    finally { Remove-Item $tmp -ErrorAction SilentlyContinue }
}

function Get-PwshPath {
    # Under 'dotnet pwsh' this process is dotnet itself; the tool ships its own apphost.
    return Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
}

function Get-ManifestText([string] $Version, [string[]] $Cmdlets) {
    $list = (@($Cmdlets | Where-Object { $_ }) | ForEach-Object { "        '$_'" }) -join "`n"
    return @"
# QemuGuest module manifest. ModuleVersion and CmdletsToExport are derived: the Package task
# fails when they disagree with Directory.Build.props and the built QemuGuest.Cmdlets.dll;
# './build.ps1 UpdateManifest' rewrites them.
@{
    RootModule           = 'QemuGuest.Cmdlets.dll'
    ModuleVersion        = '$Version'
    GUID                 = '5b0d6f4e-6a43-4c1b-9d8e-3f2a8c7e9a10'
    Author               = 'QemuGuest developers'
    CompanyName          = 'QemuGuest'
    Copyright            = '(c) QemuGuest developers. MIT License.'
    Description          = 'Manage the guests of QEMU virtual machines through the QEMU guest agent: copy files, run programs, read guest facts.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('QemuGuest.Format.ps1xml')
    CmdletsToExport      = @(
$list
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('QEMU', 'qemu-ga', 'GuestAgent', 'VirtualMachine', 'Linux', 'Windows', 'PSEdition_Core', 'PSEdition_Desktop')
        }
    }
}
"@
}

function Get-BuiltCmdletsDll {
    $dll = Join-Path $Root "src/QemuGuest.Cmdlets/bin/$Configuration/netstandard2.0/QemuGuest.Cmdlets.dll"
    if (-not (Test-Path $dll)) { throw "not built: $dll (run the Build task)" }
    return $dll
}

function Test-Manifest {
    # The committed psd1 must say what the build says.
    $version = Get-ProductVersion
    $cmdlets = Get-ModuleCmdletNames (Get-BuiltCmdletsDll)
    $expected = Get-ManifestText $version $cmdlets
    $actual = Get-Content -Raw (Join-Path $Root 'QemuGuest.psd1')
    if ($actual.Replace("`r`n", "`n").TrimEnd() -ne $expected.Replace("`r`n", "`n").TrimEnd()) {
        throw "QemuGuest.psd1 is out of date with Directory.Build.props ($version) or the built cmdlets ($($cmdlets.Count)): run './build.ps1 UpdateManifest' and commit it"
    }
}

function Invoke-Package {
    Invoke-Build
    Test-Manifest
    $publish = Join-Path $OutDir 'publish/QemuGuest.Cmdlets'
    Write-Step 'Publishing QemuGuest.Cmdlets (netstandard2.0)'
    if (Test-Path $publish) { Remove-Item -Recurse -Force $publish }
    Invoke-Native 'dotnet' @('publish', (Join-Path $Root 'src/QemuGuest.Cmdlets/QemuGuest.Cmdlets.csproj'), '-c', $Configuration, '-f', 'netstandard2.0', '-o', $publish, '--no-build', '--nologo', '-v', 'q') 'dotnet publish'

    Write-Step "Laying out $ModuleOut"
    if (Test-Path $ModuleOut) { Remove-Item -Recurse -Force $ModuleOut }
    $null = New-Item -ItemType Directory -Force -Path $ModuleOut, (Join-Path $ModuleOut 'Dependencies'), (Join-Path $ModuleOut 'Remoting'), (Join-Path $ModuleOut 'en-US')

    # Every file publish produced must be on one of the lists: an unlisted dependency
    # would be missing at run time.
    $published = @(Get-ChildItem -File -Recurse $publish | ForEach-Object { [IO.Path]::GetRelativePath($publish, $_.FullName).Replace('\', '/') })
    $known = @('QemuGuest.Cmdlets.dll') + $ModuleDependencyFiles + $ModuleIgnoredPublishFiles
    $unlisted = @($published | Where-Object { $_ -notin $known })
    if ($unlisted.Count -gt 0) {
        throw "publish produced files on no list in build.ps1 (add them to `$ModuleDependencyFiles or `$ModuleIgnoredPublishFiles): $($unlisted -join ', ')"
    }

    $sources = @{
        'QemuGuest.psd1'                  = Join-Path $Root 'QemuGuest.psd1'
        'LICENSE'                         = Join-Path $Root 'LICENSE'
        'QemuGuest.Cmdlets.dll'           = Join-Path $publish 'QemuGuest.Cmdlets.dll'
        'QemuGuest.Format.ps1xml'         = Join-Path $Root 'src/QemuGuest.Cmdlets/QemuGuest.Format.ps1xml'
        'en-US/about_QemuGuest.help.txt'  = Join-Path $Root 'en-US/about_QemuGuest.help.txt'
        'en-US/about_QemuGuest_PSDirect.help.txt' = Join-Path $Root 'en-US/about_QemuGuest_PSDirect.help.txt'
        'en-US/about_QemuGuest_Provider.help.txt' = Join-Path $Root 'en-US/about_QemuGuest_Provider.help.txt'
    }
    # Written by the QemuGuest.Cmdlets build (target WriteModuleHelp, tools/Build-ModuleHelp.ps1).
    $sources['en-US/QemuGuest.Cmdlets.dll-Help.xml'] = Join-Path $Root "src/QemuGuest.Cmdlets/bin/$Configuration/netstandard2.0/en-US/QemuGuest.Cmdlets.dll-Help.xml"
    foreach ($f in $ModuleDependencyFiles) { $sources["Dependencies/$f"] = Join-Path $publish $f }
    # PowerShell Direct's transport (net10.0, PowerShell 7.6+ only): its own folder, loaded by
    # New-VMGuestPSSession alone, so Windows PowerShell never sees it.
    $sources['Remoting/QemuGuest.Remoting.dll'] = Join-Path $Root "src/QemuGuest.Remoting/bin/$Configuration/net10.0/QemuGuest.Remoting.dll"

    $missing = @($sources.GetEnumerator() | Where-Object { -not (Test-Path $_.Value) } | ForEach-Object { "$($_.Key) (from $($_.Value))" })
    if ($missing.Count -gt 0) { throw "module layout incomplete, missing: $($missing -join '; ')" }
    foreach ($entry in $sources.GetEnumerator()) {
        Copy-Item -LiteralPath $entry.Value -Destination (Join-Path $ModuleOut $entry.Key)
    }

    # The psd1 must agree with the dll it ships with.
    $manifest = Test-ModuleManifest -Path (Join-Path $ModuleOut 'QemuGuest.psd1') -ErrorAction Stop
    $dllVersion = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModuleOut 'QemuGuest.Cmdlets.dll')).Version
    if ($manifest.Version.ToString(3) -ne $dllVersion.ToString(3)) {
        throw "QemuGuest.psd1 version $($manifest.Version) does not match QemuGuest.Cmdlets.dll $dllVersion"
    }

    Write-Step "Publishing the module to the local repository $RepoOut"
    $null = New-Item -ItemType Directory -Force -Path $RepoOut
    Get-ChildItem $RepoOut -Filter 'QemuGuest.*.nupkg' | Remove-Item -Force
    $repoName = "QemuGuestLocal$PID"
    Register-PSResourceRepository -Name $repoName -Uri $RepoOut -Trusted -ErrorAction Stop
    try {
        Publish-PSResource -Path $ModuleOut -Repository $repoName -SkipDependenciesCheck -ErrorAction Stop
    }
    finally {
        Unregister-PSResourceRepository -Name $repoName -ErrorAction SilentlyContinue
    }
    $nupkg = Get-ChildItem $RepoOut -Filter 'QemuGuest.*.nupkg' | Select-Object -First 1
    if (-not $nupkg) { throw "Publish-PSResource produced no .nupkg in $RepoOut" }
    Add-NuspecLicense $nupkg.FullName
    Write-Host "    module: $ModuleOut"
    Write-Host "    package: $($nupkg.FullName)"
}

function Add-NuspecLicense([string] $Path) {
    # Publish-PSResource writes a nuspec from the psd1, which can only point at a LicenseUri, and
    # there is no home page to point at. The LICENSE file is in the package (module allow-list);
    # this declares it in the nuspec too, as an SPDX expression that NuGet clients display.
    Add-Type -AssemblyName System.IO.Compression
    $zip = [IO.Compression.ZipFile]::Open($Path, [IO.Compression.ZipArchiveMode]::Update)
    try {
        $entry = @($zip.Entries | Where-Object { $_.FullName -notmatch '/' -and $_.Name -like '*.nuspec' })
        if ($entry.Count -ne 1) { throw "expected one .nuspec at the root of $Path, found $($entry.Count)" }
        $reader = [IO.StreamReader]::new($entry[0].Open())
        try { [xml] $nuspec = $reader.ReadToEnd() } finally { $reader.Dispose() }
        $ns = $nuspec.DocumentElement.NamespaceURI
        $metadata = $nuspec.DocumentElement['metadata', $ns]
        if (-not $metadata['license', $ns]) {
            $license = $nuspec.CreateElement('license', $ns)
            $license.SetAttribute('type', 'expression')
            $license.InnerText = 'MIT'
            $null = $metadata.InsertAfter($license, $metadata['requireLicenseAcceptance', $ns])
        }
        $name = $entry[0].FullName
        $entry[0].Delete()
        $writer = [IO.StreamWriter]::new($zip.CreateEntry($name).Open(), [Text.UTF8Encoding]::new($false))
        try { $nuspec.Save($writer) } finally { $writer.Dispose() }
    }
    finally { $zip.Dispose() }
}

function Get-TrxCounts([string] $Dir) {
    $passed = 0; $failed = 0; $skipped = 0
    foreach ($trx in Get-ChildItem -Path $Dir -Filter '*.trx' -Recurse -ErrorAction SilentlyContinue) {
        [xml] $x = Get-Content -Raw $trx.FullName
        $c = $x.TestRun.ResultSummary.Counters
        $passed += [int] $c.passed
        $failed += [int] $c.failed + [int] $c.error + [int] $c.timeout + [int] $c.aborted
        # Skipped tests count in 'total' but not in 'executed' (TRX leaves notExecuted at 0 for them).
        $skipped += [int] $c.total - [int] $c.executed
    }
    return [pscustomobject]@{ Passed = $passed; Failed = $failed; Skipped = $skipped }
}

function Invoke-PesterRow {
    # One suite row from tests/pester/Invoke-PesterSuite.ps1 run on a folder of *.Tests.ps1.
    # Uses $pester, $suites and $failures of Invoke-Tests.
    param([string] $Name, [string] $Path, [string] $ResultName, [int] $TimeoutMinutes = 0)
    $json = Join-Path $TestResults $ResultName
    $psi = [Diagnostics.ProcessStartInfo]::new((Get-PwshPath))
    foreach ($a in @('-NoProfile', '-NonInteractive', '-File', (Join-Path $Root 'tests/pester/Invoke-PesterSuite.ps1'),
            '-PesterPath', $pester, '-ModulePath', $ModuleOut, '-RepositoryPath', $RepoOut, '-ResultPath', $json, '-Path', $Path)) { $psi.ArgumentList.Add($a) }
    $psi.UseShellExecute = $false
    $proc = [Diagnostics.Process]::Start($psi)
    $limit = if ($TimeoutMinutes -gt 0) { $TimeoutMinutes * 60000 } else { -1 }
    if (-not $proc.WaitForExit($limit)) {
        # The suites stop their own VMs and agents in AfterAll; killing the tree covers a hang.
        $proc.Kill($true)
        $null = $proc.WaitForExit(30000)
        $failures.Add("$Name did not finish within $TimeoutMinutes minutes and was stopped")
        $suites.Add([pscustomobject]@{ Suite = $Name; Passed = 0; Failed = 1; Skipped = 0 })
        return
    }
    $exit = $proc.ExitCode
    if (Test-Path $json) {
        $p = Get-Content -Raw $json | ConvertFrom-Json
        if ($exit -ne 0 -and $p.Failed -eq 0) { $p.Failed = 1 }
        if ([int] $p.Passed + [int] $p.Failed -eq 0) { $failures.Add("$Name ran no tests"); $p.Failed = 1 }
        $suites.Add([pscustomobject]@{ Suite = $Name; Passed = [int] $p.Passed; Failed = [int] $p.Failed; Skipped = [int] $p.Skipped })
    }
    else {
        $suites.Add([pscustomobject]@{ Suite = $Name; Passed = 0; Failed = 1; Skipped = 0 })
        $failures.Add("$Name produced no result file")
    }
}

function Invoke-WindowsAgentCheck {
    # The agent's Windows code only runs on Windows, and NativeAOT cannot cross-compile from
    # Linux: publishing it trimmed for win-x64 compiles it for that RID (platform and AOT
    # analyzers) and runs ILLink's trim analysis; any warning fails it (warnings are errors).
    Write-Step 'Windows agent: trimmed win-x64 publish (compile + trim analysis)'
    $out = Join-Path $TestResults 'win-x64-agent'
    & dotnet publish (Join-Path $Root 'src/QemuGuest.Agent/QemuGuest.Agent.csproj') -c $Configuration -r win-x64 -p:QemuGuestWindowsTrimCheck=true -o $out --nologo -v q '-clp:ErrorsOnly;Summary' | Out-Host
    return $LASTEXITCODE -eq 0
}

function Invoke-WineAgentTests {
    # The Windows agent for real: published self-contained for win-x64 (JIT: NativeAOT cannot
    # cross-compile) and run under Wine by tests/QemuGuest.Agent.Tests' Category=Wine, which
    # makes a throw-away prefix per class. Dynamic code is off as in the NativeAOT build that
    # ships: with it on, the JIT agent died under Wine 8 in a DynamicMethod finalizer ("Internal
    # CLR error 0x80131506"). The publish folder and a prepared Wine prefix stay in out/wine
    # between runs (the publish is incremental; the prefix is keyed by Wine's version).
    # Uses $suites and $failures of Invoke-Tests.
    $name = 'Windows agent under Wine'
    Write-Step "${name}: win-x64 self-contained publish, Category=Wine tests"
    $agentDir = Join-Path $OutDir 'wine/agent'
    & dotnet publish (Join-Path $Root 'src/QemuGuest.Agent/QemuGuest.Agent.csproj') -c $Configuration -r win-x64 --self-contained -p:PublishAot=false -p:DynamicCodeSupport=false -o $agentDir --nologo -v q '-clp:ErrorsOnly;Summary' | Out-Host
    if ($LASTEXITCODE -ne 0) {
        $failures.Add("${name}: win-x64 self-contained publish failed")
        $suites.Add([pscustomobject]@{ Suite = $name; Passed = 0; Failed = 1; Skipped = 0 })
        return
    }

    # The Windows guest's PowerShell for tests/wine's PowerShell Direct file: PowerShell 7.6's
    # console host, self-contained win-x64, kept in out/wine/pwsh like the agent (incremental:
    # about 3 minutes the first time, seconds after).
    $pwshDir = Join-Path $OutDir 'wine/pwsh'
    & dotnet publish (Join-Path $Root 'tests/QemuGuest.WinePwsh/QemuGuest.WinePwsh.csproj') -c $Configuration -r win-x64 --self-contained -o $pwshDir --nologo -v q '-clp:ErrorsOnly;Summary' | Out-Host
    if ($LASTEXITCODE -ne 0) {
        $failures.Add("${name}: win-x64 publish of the guest PowerShell (tests/QemuGuest.WinePwsh) failed")
        $suites.Add([pscustomobject]@{ Suite = $name; Passed = 0; Failed = 1; Skipped = 0 })
        return
    }

    $dir = Join-Path $TestResults 'wine-agent'
    $env:QEMUGUEST_WINE_AGENT = Join-Path $agentDir 'qemuguest-agent.exe'
    $env:QEMUGUEST_WINE_PWSH = Join-Path $pwshDir 'pwsh.exe'
    # A booted Windows 10 prefix per Wine version, copied for every agent (tests/
    # QemuGuest.HostileAgent/WinePrefixCache.cs): wineboot took 26 s per agent under CI load.
    $env:QEMUGUEST_WINE_PREFIX_CACHE = Join-Path $OutDir 'wine/prefixes'
    try {
        & dotnet test (Join-Path $Root 'tests/QemuGuest.Agent.Tests/QemuGuest.Agent.Tests.csproj') -c $Configuration --no-build --nologo -v q --filter 'Category=Wine' --logger 'trx' --logger 'console;verbosity=minimal' --results-directory $dir
        $exit = $LASTEXITCODE
        # The module's Windows-guest strategies (cmd.exe, chcp, Windows paths) against the same
        # agent: tests/wine, kept out of the Pester row because it needs this publish. Its file
        # fails rather than skips without Wine, so its count is what it ran.
        Write-Step 'Windows guest under Wine: tests/wine (Pester) against out/QemuGuest'
        Invoke-PesterRow 'Windows guest under Wine (Pester)' (Join-Path $Root 'tests/wine') 'wine-pester.json' -TimeoutMinutes 30
    }
    finally {
        Remove-Item Env:QEMUGUEST_WINE_AGENT, Env:QEMUGUEST_WINE_PWSH, Env:QEMUGUEST_WINE_PREFIX_CACHE
    }
    $counts = Get-TrxCounts $dir
    if ($exit -ne 0 -and $counts.Failed -eq 0) { $counts.Failed = 1 }
    if ($counts.Passed + $counts.Failed -eq 0) { $failures.Add("$name ran no tests"); $counts.Failed = 1 }
    # Wine is a Test prerequisite and the agent was just published: a skip here means this row
    # did not run what it is for.
    if ($counts.Skipped -gt 0) { $failures.Add("${name}: $($counts.Skipped) test(s) skipped (see the skip reason above)"); $counts.Failed += $counts.Skipped }
    $suites.Add([pscustomobject]@{ Suite = $name; Passed = $counts.Passed; Failed = $counts.Failed; Skipped = $counts.Skipped })
}

function Invoke-FormatGenerator {
    # dotnet format loads the solution in its default configuration (Debug) and runs our source
    # generator from that build: without a current Debug build of it, the generated types are
    # missing and IDE0005 would call the usings that import them unused.
    Invoke-Native dotnet @('build', (Join-Path $Root 'src/QemuGuest.Generator/QemuGuest.Generator.csproj'), '-c', 'Debug', '--nologo', '-v', 'q', '-clp:ErrorsOnly') -What 'dotnet build (generator, Debug)'
}

function Invoke-FormatCheck {
    # One formatting dialect (.editorconfig at the root): whitespace, code style (IDE rules the
    # file raises to warning, e.g. IDE0005 unused usings) and naming. `./build.ps1 Format`
    # applies the same rules. Generated code is not checked (dotnet format skips it).
    Write-Step 'Format: dotnet format --verify-no-changes (.editorconfig)'
    # Out-Host: the build's output must not become part of this function's [bool] result.
    Invoke-FormatGenerator | Out-Host
    & dotnet format (Join-Path $Root 'QemuGuest.slnx') --verify-no-changes --no-restore --severity warn -v q | Out-Host
    return $LASTEXITCODE -eq 0
}

function Invoke-Tests {
    Install-Prerequisite -Task Test
    $pester = Get-PesterModulePath
    Invoke-Package

    if (Test-Path $TestResults) { Remove-Item -Recurse -Force $TestResults }
    $null = New-Item -ItemType Directory -Force -Path $TestResults
    $suites = [System.Collections.Generic.List[object]]::new()
    $failures = [System.Collections.Generic.List[string]]::new()

    # First: it needs only the restored solution and answers in about a minute.
    $formatOk = Invoke-FormatCheck
    if (-not $formatOk) { $failures.Add('dotnet format --verify-no-changes: files differ from .editorconfig (run ./build.ps1 Format)') }
    $suites.Add([pscustomobject]@{ Suite = 'format'; Passed = [int] $formatOk; Failed = [int] (-not $formatOk); Skipped = 0 })

    foreach ($proj in Get-ChildItem (Join-Path $Root 'tests') -Recurse -Filter '*.Tests.csproj' | Sort-Object Name) {
        $name = $proj.BaseName
        $dir = Join-Path $TestResults $name
        Write-Step "xunit: $name"
        # Category=Wine runs in its own row (Invoke-WineAgentTests) against the win-x64 publish.
        & dotnet test $proj.FullName -c $Configuration --no-build --nologo -v q --filter 'Category!=Wine' --logger 'trx' --logger 'console;verbosity=minimal' --results-directory $dir
        $exit = $LASTEXITCODE
        $counts = Get-TrxCounts $dir
        if ($exit -ne 0 -and $counts.Failed -eq 0) {
            # The runner itself failed (crash, build error): count it as a failure.
            $counts.Failed = 1
        }
        if ($counts.Passed + $counts.Failed -eq 0) {
            $failures.Add("$name ran no tests")
            $counts.Failed = 1
        }
        $suites.Add([pscustomobject]@{ Suite = $name; Passed = $counts.Passed; Failed = $counts.Failed; Skipped = $counts.Skipped })
    }

    Write-Step 'Pester: tests/pester against out/QemuGuest'
    Invoke-PesterRow 'Pester' (Join-Path $Root 'tests/pester') 'pester.json'
    # A real QEMU VM per agent kind and path; the whole suite is bounded so a hang fails CI
    # instead of stalling it. PSDirect.Tests.ps1 adds a pwsh started inside a TCG guest (over a
    # minute on a loaded host) to the other VMs.
    Write-Step 'E2E: tests/e2e in QEMU VMs against out/QemuGuest'
    Invoke-PesterRow 'E2E' (Join-Path $Root 'tests/e2e') 'e2e.json' -TimeoutMinutes 40

    # Last: it republishes the agent for another RID, after every suite has used the Linux build.
    $winOk = Invoke-WindowsAgentCheck
    if (-not $winOk) { $failures.Add('win-x64 agent publish (trim analysis) failed') }
    $suites.Add([pscustomobject]@{ Suite = 'win-x64 agent build'; Passed = [int] $winOk; Failed = [int] (-not $winOk); Skipped = 0 })
    Invoke-WineAgentTests

    $suites | Format-Table -AutoSize | Out-String | Write-Host
    foreach ($f in $failures) { Write-Host "FAILED: $f" -ForegroundColor Red }
    $passed = ($suites | Measure-Object Passed -Sum).Sum
    $failed = ($suites | Measure-Object Failed -Sum).Sum
    $skipped = ($suites | Measure-Object Skipped -Sum).Sum
    # The last line is what CI counts.
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0) { exit 1 }
}

Add-Task 'Help' 'List the tasks.' {
    Write-Host 'Usage: dotnet pwsh ./build.ps1 <Task> [-Configuration Debug|Release] [-VM] [-Target fuzz-targets] [-FuzzSeconds N]'
    Write-Host ''
    foreach ($t in $Tasks.Values) { Write-Host ('  {0,-15} {1}' -f $t.Name, $t.Synopsis) }
}
Add-Task 'Build' 'Restore and compile every project (warnings are errors).' { Invoke-Build }
Add-Task 'Package' 'Lay the module out in out/QemuGuest (allow-listed files) and publish it as a .nupkg to out/repo.' { Invoke-Package }
Add-Task 'Test' 'Build, package, run every xunit and Pester suite; last line "N passed, N failed".' { Invoke-Tests }
Add-Task 'Format' 'Rewrite every C# file to the .editorconfig rules (dotnet format; Test checks them).' {
    Invoke-FormatGenerator
    Invoke-Native dotnet @('format', (Join-Path $Root 'QemuGuest.slnx'), '--severity', 'warn', '-v', 'q') -What 'dotnet format'
}
Add-Task 'Demo' 'Start a local agent on a temporary socket (-VM: boot a QEMU VM) and drive it through the module.' {
    # The local demo runs our own agent and needs nothing from apt; the VM needs QEMU and qemu-ga.
    Install-Prerequisite -Task ($VM ? 'Demo -VM' : 'Demo')
    Invoke-Package
    & (Get-PwshPath) -NoProfile -NonInteractive -File (Join-Path $Root 'tools/Demo.ps1') -ModulePath $ModuleOut -VM:$VM
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
Add-Task 'Bench' 'Run the benchmarks, ours next to qemu-ga, and write bench/RESULTS.md (-Quick, -BenchArea).' {
    Install-Prerequisite -Task Bench
    if ($BenchArea -contains 'vm') { Install-Prerequisite -Task 'Bench -BenchArea vm' }
    Invoke-Package
    # '*' is never handed to a native command: PowerShell would expand it to file names.
    $areaArguments = if (@($BenchArea | Where-Object { $_ -ne '*' }).Count) { @('-Area', ($BenchArea -join ',')) } else { @() }
    & (Get-PwshPath) -NoProfile -NonInteractive -File (Join-Path $Root 'bench/Invoke-Bench.ps1') -Configuration $Configuration -ModulePath $ModuleOut -Quick:$Quick @areaArguments
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
Add-Task 'Fuzz' 'Coverage-guided fuzzing (SharpFuzz + AFL++) of each -Target for -FuzzSeconds; fails on any crash or hang.' {
    $targets = @($Target | ForEach-Object { $_ -split ',' } | ForEach-Object Trim | Where-Object { $_ })
    $known = @('reader', 'agent-dispatch', 'relay-validation', 'qapi-parser')
    $unknown = @($targets | Where-Object { $_ -notin $known })
    if ($unknown.Count -gt 0) { throw "unknown fuzz target(s) '$($unknown -join "', '")'; targets: $($known -join ', ')" }
    Install-Prerequisite -Task Fuzz
    & (Join-Path $Root 'fuzz/Invoke-Fuzz.ps1') -Configuration $Configuration -Target $targets -Seconds $FuzzSeconds
    if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
}
Add-Task 'Prerequisites' 'Show what each task needs from the machine and whether it is here (installs nothing).' {
    foreach ($task in 'Test', 'Demo', 'Demo -VM', 'Bench', 'Bench -BenchArea vm', 'Fuzz') {
        $rows = @(Get-Prerequisite $task | Test-Prerequisite)
        Write-Host "${task}: $(if ($rows.Count) { '' } else { 'nothing' })"
        foreach ($r in $rows) { Write-Host ('    {0,-24} {1,-18} {2,-14} {3}' -f $r.Tool, $r.Package, $r.State, $(if ($r.Present) { 'present' } else { 'MISSING' })) }
    }
}
Add-Task 'UpdateManifest' 'Rewrite QemuGuest.psd1 from Directory.Build.props and the built cmdlets.' {
    Invoke-Build
    $text = Get-ManifestText (Get-ProductVersion) (Get-ModuleCmdletNames (Get-BuiltCmdletsDll))
    Set-Content -Path (Join-Path $Root 'QemuGuest.psd1') -Value $text -NoNewline:$false
    Write-Host 'QemuGuest.psd1 updated'
}
Add-Task 'Clean' 'Remove out/ and every bin/ and obj/ folder.' {
    foreach ($d in @($OutDir) + @(Get-ChildItem $Root -Recurse -Directory -Include bin, obj | ForEach-Object FullName)) {
        if (Test-Path $d) { Remove-Item -Recurse -Force $d }
    }
}

if (-not $Tasks.Contains($Task)) {
    $names = ($Tasks.Keys | Sort-Object) -join ', '
    [Console]::Error.WriteLine("build.ps1: unknown task '$Task'. Tasks: $names")
    exit 2
}

Push-Location $Root
try {
    & $Tasks[$Task].Body
}
catch {
    [Console]::Error.WriteLine("build.ps1 ${Task}: $($_.Exception.Message)")
    exit 1
}
finally {
    Pop-Location
}
