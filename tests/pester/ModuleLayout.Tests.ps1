# The module as users get it: the layout in out/QemuGuest, its manifest, and the package
# published by build.ps1 Package, installed with Install-PSResource into a clean module path.

BeforeDiscovery {
    $script:ModulePath = $env:QEMUGUEST_MODULE_PATH
}

BeforeAll {
    $script:ModulePath = $env:QEMUGUEST_MODULE_PATH
    $script:RepoPath = $env:QEMUGUEST_REPOSITORY_PATH
    $script:RepoRoot = $env:QEMUGUEST_REPO_ROOT
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:Manifest = Import-PowerShellDataFile (Join-Path $ModulePath 'QemuGuest.psd1')
}

Describe 'Module layout (out/QemuGuest)' {
    It 'contains exactly the allow-listed files' {
        $files = Get-ChildItem -Recurse -File $ModulePath | ForEach-Object { [IO.Path]::GetRelativePath($ModulePath, $_.FullName).Replace('\', '/') } | Sort-Object
        $files | Should -Contain 'QemuGuest.psd1'
        $files | Should -Contain 'LICENSE'
        $files | Should -Contain 'QemuGuest.Cmdlets.dll'
        $files | Should -Contain 'QemuGuest.Format.ps1xml'
        $files | Should -Contain 'en-US/about_QemuGuest.help.txt'
        $files | Should -Contain 'Dependencies/QemuGuest.Protocol.dll'
        $files | Should -Contain 'Dependencies/System.Text.Json.dll'
        $files | Should -Contain 'Remoting/QemuGuest.Remoting.dll'
        # Nothing from a build folder leaks in.
        $files | Where-Object { $_ -match '\.(pdb|deps\.json)$' } | Should -BeNullOrEmpty
        # Dependencies never sit next to the module assembly, where the host could pick them up.
        $files | Where-Object { $_ -match '^[^/]+\.dll$' } | Should -Be @('QemuGuest.Cmdlets.dll')
    }

    It 'has a manifest for Desktop and Core with an explicit export list' {
        $Manifest.PowerShellVersion | Should -Be '5.1'
        $Manifest.CompatiblePSEditions | Should -Be @('Desktop', 'Core')
        $Manifest.RootModule | Should -Be 'QemuGuest.Cmdlets.dll'
        $Manifest.FormatsToProcess | Should -Be @('QemuGuest.Format.ps1xml')
        foreach ($list in 'CmdletsToExport', 'FunctionsToExport', 'AliasesToExport', 'VariablesToExport') {
            @($Manifest[$list]) -join ',' | Should -Not -Match '\*' -Because "$list must not use wildcards"
        }
    }

    It 'has the version of Directory.Build.props and of the dll' {
        [xml] $props = Get-Content -Raw (Join-Path $RepoRoot 'Directory.Build.props')
        $expected = @($props.Project.PropertyGroup.VersionPrefix | Where-Object { $_ })[0]
        $Manifest.ModuleVersion | Should -Be $expected
        $dll = [Reflection.AssemblyName]::GetAssemblyName((Join-Path $ModulePath 'QemuGuest.Cmdlets.dll'))
        $dll.Version.ToString(3) | Should -Be $expected
    }

    It 'exports exactly the cmdlets the dll defines, and imports without warnings' {
        $out = @(& $Pwsh -NoProfile -NonInteractive -Command "
            `$WarningPreference = 'Continue'
            Import-Module '$ModulePath' -WarningVariable w -ErrorAction Stop 3>`$null
            'WARNINGS=' + `$w.Count
            (Get-Command -Module QemuGuest -CommandType Cmdlet).Name | Sort-Object
        ")
        $LASTEXITCODE | Should -Be 0
        $out[0] | Should -Be 'WARNINGS=0'
        @($out | Select-Object -Skip 1) | Should -Be @($Manifest.CmdletsToExport | Sort-Object)
    }
}

Describe 'Release hygiene' {
    It 'passes Test-ModuleManifest and invents no home page' {
        $m = Test-ModuleManifest -Path (Join-Path $ModulePath 'QemuGuest.psd1') -ErrorAction Stop
        $m.Name | Should -Be 'QemuGuest'
        # Fields with no real value stay empty rather than point somewhere made up.
        $m.ProjectUri | Should -BeNullOrEmpty
        Get-Content -Raw (Join-Path $RepoRoot 'QemuGuest.psd1') | Should -Not -Match 'example\.(invalid|com|org)'
    }

    It 'ships the LICENSE whose holder and kind the manifest names' {
        $license = Get-Content -Raw (Join-Path $RepoRoot 'LICENSE')
        $license | Should -Match '^MIT License'
        $license -match 'Copyright \(c\) (.+)' | Should -BeTrue
        $holder = $Matches[1].Trim()
        $Manifest.Copyright | Should -Be "(c) $holder. MIT License."
        Get-Content -Raw (Join-Path $ModulePath 'LICENSE') | Should -Be $license
    }

    It 'publishes a nupkg that carries the LICENSE file and declares MIT' {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $nupkg = @(Get-ChildItem $RepoPath -Filter 'QemuGuest.*.nupkg')
        $nupkg.Count | Should -Be 1
        $zip = [IO.Compression.ZipFile]::OpenRead($nupkg[0].FullName)
        try {
            $read = { param($e) $r = [IO.StreamReader]::new($e.Open()); try { $r.ReadToEnd() } finally { $r.Dispose() } }
            $licenseEntry = $zip.GetEntry('LICENSE')
            $licenseEntry | Should -Not -BeNullOrEmpty
            (& $read $licenseEntry) | Should -Be (Get-Content -Raw (Join-Path $RepoRoot 'LICENSE'))
            [xml] $nuspec = & $read $zip.GetEntry('QemuGuest.nuspec')
            $nuspec.package.metadata.license.type | Should -Be 'expression'
            $nuspec.package.metadata.license.'#text' | Should -Be 'MIT'
            $nuspec.OuterXml | Should -Not -Match 'example\.invalid'
        }
        finally { $zip.Dispose() }
    }
}

Describe 'The suites'' module path' {
    It 'puts only the module on PSModulePath, never the rest of out/' {
        # out/ also holds the Wine prefixes, whose z: is a link to /: with out/ on PSModulePath,
        # PowerShell's module discovery walked the whole file system (HelpExamples, 8 GB RSS).
        $first = ($env:PSModulePath -split [IO.Path]::PathSeparator)[0]
        @(Get-ChildItem -LiteralPath $first -Force).Name | Should -Be @(Split-Path $env:QEMUGUEST_MODULE_PATH -Leaf)
        (Get-Item -LiteralPath (Join-Path $first (Split-Path $env:QEMUGUEST_MODULE_PATH -Leaf))).ResolvedTarget | Should -Be $env:QEMUGUEST_MODULE_PATH
    }
}

Describe 'Published package' {
    It 'installs with Install-PSResource into a clean module path and imports' {
        $home2 = Join-Path ([IO.Path]::GetTempPath()) "qg-home-$([guid]::NewGuid().ToString('n'))"
        $null = New-Item -ItemType Directory -Path $home2
        try {
            # A fresh HOME gives PSResourceGet a clean repository list and a clean CurrentUser scope.
            $script = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name QemuGuestTest -Uri '$RepoPath' -Trusted
Install-PSResource -Name QemuGuest -Repository QemuGuestTest -Scope CurrentUser -TrustRepository -Quiet
`$m = Import-Module QemuGuest -PassThru
'{0}|{1}' -f `$m.Version, `$m.ModuleBase
"@
            $env:HOME_SAVED = $env:HOME
            $psi = [Diagnostics.ProcessStartInfo]::new($Pwsh)
            foreach ($a in '-NoProfile', '-NonInteractive', '-Command', $script) { $psi.ArgumentList.Add($a) }
            $psi.Environment['HOME'] = $home2
            $psi.Environment['PSModulePath'] = ''
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $p = [Diagnostics.Process]::Start($psi)
            $stdout = $p.StandardOutput.ReadToEnd()
            $stderr = $p.StandardError.ReadToEnd()
            $p.WaitForExit(120000) | Should -BeTrue
            $p.ExitCode | Should -Be 0 -Because $stderr
            $line = ($stdout -split "`n" | Where-Object { $_ -match '\|' } | Select-Object -Last 1).Trim()
            $version, $base = $line -split '\|', 2
            $version | Should -Be $Manifest.ModuleVersion
            $base | Should -BeLike "$home2*"
            Test-Path (Join-Path $base 'Dependencies/QemuGuest.Protocol.dll') | Should -BeTrue
        }
        finally {
            Remove-Item -Recurse -Force $home2 -ErrorAction SilentlyContinue
        }
    }
}
