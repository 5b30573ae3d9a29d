# Living beside PowerCLI and Hyper-V (issue 17): VMware PowerCLI exports Copy-VMGuestFile,
# Stop-VMGuest, Restart-VMGuest and Invoke-VMScript too. A stand-in module made here (no VMware
# needed) exports those names and is imported BEFORE QemuGuest in a fresh runspace, as a user's
# profile would; both modules must stay usable by module-qualified name, and QemuGuest's
# commands must still reach a real agent (Debian's qemu-ga). The documented ways are in
# docs/powershell-surface.md ("Beside PowerCLI and Hyper-V").

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    # Safety net: nothing here may shut this machine down, whichever module a name resolves to.
    $script:Agent = Start-LocalAgent -Kind Stock -ExtraArguments @('-b', 'guest-shutdown')
    $script:T = Join-Path ([IO.Path]::GetTempPath()) ('qg-coexist-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path "$T/StandInPowerCLI", "$T/guest"
    Set-Content "$T/local.txt" 'from the host'
    # The stand-in: same names as PowerCLI, PowerCLI-style parameters, answers who it is.
    Set-Content "$T/StandInPowerCLI/StandInPowerCLI.psm1" @'
function Copy-VMGuestFile { param($Source, $Destination, $VM, [switch] $LocalToGuest, [switch] $GuestToLocal, $GuestUser, $GuestPassword) "StandInPowerCLI copy $Source" }
function Stop-VMGuest { param($VM, [switch] $Confirm) "StandInPowerCLI stop $VM" }
function Restart-VMGuest { param($VM) "StandInPowerCLI restart $VM" }
function Invoke-VMScript { param($ScriptText, $VM) "StandInPowerCLI script $ScriptText" }
Export-ModuleMember -Function Copy-VMGuestFile, Stop-VMGuest, Restart-VMGuest, Invoke-VMScript
'@

    function script:Invoke-InFreshRunspace([string] $Script, [hashtable] $Arguments = @{}) {
        # A runspace of its own: command lookup (which module a bare name reaches) is per runspace.
        $rs = [runspacefactory]::CreateRunspace([initialsessionstate]::CreateDefault2())
        $rs.Open()
        $ps = [powershell]::Create()
        $ps.Runspace = $rs
        try {
            $null = $ps.AddScript($Script)
            foreach ($k in $Arguments.Keys) { $null = $ps.AddParameter($k, $Arguments[$k]) }
            $async = $ps.BeginInvoke()
            if (-not $async.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60))) { $ps.Stop(); throw 'the runspace did not finish within 60 s' }
            $out = $ps.EndInvoke($async)
            if ($ps.Streams.Error.Count) { throw ($ps.Streams.Error -join '; ') }
            $out
        }
        finally {
            $ps.Dispose()
            $rs.Dispose()
        }
    }
}

AfterAll {
    $script:Agent | Stop-LocalAgent
    Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
}

Describe 'QemuGuest imported after a module exporting the same names' {
    It 'both modules stay usable module-qualified; QemuGuest\Copy-VMGuestFile reaches the guest' {
        $out = Invoke-InFreshRunspace -Arguments @{ T = $T; Module = $env:QEMUGUEST_MODULE_PATH; Socket = $Agent.ConnectionString } @'
param($T, $Module, $Socket)
$ErrorActionPreference = 'Stop'
Import-Module "$T/StandInPowerCLI"
Import-Module $Module
[pscustomobject]@{
    Sources   = @(Get-Command Copy-VMGuestFile -All | ForEach-Object { '{0}:{1}' -f $_.Source, $_.CommandType }) -join ','
    StandIn   = StandInPowerCLI\Copy-VMGuestFile -VM web01 -Source C:\a.txt -Destination C:\b.txt -LocalToGuest
    Stop      = StandInPowerCLI\Stop-VMGuest -VM web01
    Copied    = $(
        $s = QemuGuest\New-VMGuestSession $Socket -Name coexist
        try {
            $r = QemuGuest\Copy-VMGuestFile -Session $s -LocalToGuest "$T/local.txt" "$T/guest/copied.txt" -PassThru
            QemuGuest\Stop-VMGuest -Session $s -WhatIf
            $r.Destination
        }
        finally { QemuGuest\Remove-VMGuestSession -Session $s }
    )
    StillThere = (Get-Command Invoke-VMScript).Source + ' / ' + (Get-Command Invoke-VMGuestScript).Source
}
'@
        $out.Sources | Should -BeLike '*StandInPowerCLI:Function*'
        $out.Sources | Should -BeLike '*QemuGuest:Cmdlet*'
        $out.StandIn | Should -Be 'StandInPowerCLI copy C:\a.txt'
        $out.Stop | Should -Be 'StandInPowerCLI stop web01'
        $out.Copied | Should -Be "$T/guest/copied.txt"
        Get-Content "$T/guest/copied.txt" | Should -Be 'from the host'
        $out.StillThere | Should -Be 'StandInPowerCLI / QemuGuest'
    }

    It 'Import-Module -Prefix gives QemuGuest names that cannot clash (Copy-QemuVMGuestFile)' {
        $out = Invoke-InFreshRunspace -Arguments @{ T = $T; Module = $env:QEMUGUEST_MODULE_PATH; Socket = $Agent.ConnectionString } @'
param($T, $Module, $Socket)
$ErrorActionPreference = 'Stop'
Import-Module "$T/StandInPowerCLI"
Import-Module $Module -Prefix Qemu
$s = New-QemuVMGuestSession $Socket -Name prefixed
try {
    $null = Copy-QemuVMGuestFile -Session $s -LocalToGuest "$T/local.txt" "$T/guest/prefixed.txt"
}
finally { $s | Remove-QemuVMGuestSession }
(Get-Command Copy-VMGuestFile).Source
'@
        $out | Should -Be 'StandInPowerCLI'
        Get-Content "$T/guest/prefixed.txt" | Should -Be 'from the host'
    }
}
