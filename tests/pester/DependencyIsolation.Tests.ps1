# The module's dependencies load privately: a host that already loaded another assembly
# with the same name as one of ours (here an impostor QemuGuest.Protocol 0.0.0.0 in the
# default load context) neither breaks the module nor is replaced by it.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Agent = Start-LocalAgent -Kind Stock
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
}

AfterAll {
    $script:Agent | Stop-LocalAgent
}

Describe 'Private dependency loading on PowerShell 7' {
    It 'works when the host already loaded another QemuGuest.Protocol' {
        $impostorDir = Join-Path $Agent.Directory 'impostor'
        $null = New-Item -ItemType Directory -Path $impostorDir
        $script = @"
`$ErrorActionPreference = 'Stop'
Add-Type -TypeDefinition 'namespace QemuGuest.Protocol { public static class Impostor { public static string Who() { return "impostor"; } } }' -OutputAssembly '$impostorDir/QemuGuest.Protocol.dll'
Add-Type -Path '$impostorDir/QemuGuest.Protocol.dll'
Import-Module '$env:QEMUGUEST_MODULE_PATH'
`$s = New-VMGuestSession -ConnectionString '$($Agent.ConnectionString)'
`$info = Invoke-VMGuestRpc -Session `$s guest-info
'VERSION=' + `$info.version
foreach (`$a in [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'QemuGuest.Protocol' }) {
    'ALC=' + `$a.GetName().Version + '|' + [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$a).ToString()
}
'IMPOSTOR=' + [QemuGuest.Protocol.Impostor]::Who()
"@
        $out = @(& $Pwsh -NoProfile -NonInteractive -Command $script 2>&1)
        $LASTEXITCODE | Should -Be 0 -Because ($out -join "`n")
        ($out -match '^VERSION=\d') | Should -Not -BeNullOrEmpty -Because ($out -join "`n")
        $alcs = @($out -match '^ALC=')
        $alcs.Count | Should -Be 2 -Because ($out -join "`n")
        ($alcs -match 'Default') | Should -Not -BeNullOrEmpty
        ($alcs -match 'QemuGuest dependency context') | Should -Not -BeNullOrEmpty
        $out | Should -Contain 'IMPOSTOR=impostor'
    }

    It 'keeps System.Text.Json out of the module assembly''s own references' {
        # Only the private context may bind System.Text.Json; the module assembly itself must not.
        $refs = & $Pwsh -NoProfile -NonInteractive -Command "[Reflection.Assembly]::LoadFile('$env:QEMUGUEST_MODULE_PATH/QemuGuest.Cmdlets.dll').GetReferencedAssemblies().Name"
        $refs | Should -Contain 'QemuGuest.Protocol'
        $refs | Should -Not -Contain 'System.Text.Json'
    }
}
