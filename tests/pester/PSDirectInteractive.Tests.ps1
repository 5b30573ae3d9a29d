# PowerShell Direct (issue 20), the interactive side: progress records, tab completion in the remote session, Enter-PSSession driven
# through a real console host. Real processes only: our agent on loopback sockets starting a real
# `pwsh -s` (this repository's pwsh, through a launcher); the "guest" is this machine.

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')

    $script:GuestDir = Join-Path ([IO.Path]::GetTempPath()) ('qg-psint-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path $GuestDir
    $script:GuestPwsh = Join-Path $GuestDir 'pwsh'
    $script:Dotnet = (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source
    "#!/bin/sh`nexec '$Dotnet' '$(Join-Path $PSHOME 'pwsh.dll')' `"`$@`"`n" | Set-Content -Path $GuestPwsh -NoNewline
    & chmod 755 $GuestPwsh

    function script:Wait-Until([scriptblock] $Condition, [int] $Seconds = 60) {
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { return $false }
            Start-Sleep -Milliseconds 200
        }
        $true
    }
}

AfterAll {
    Get-PSSession | Remove-PSSession
    Remove-Item -Recurse -Force $script:GuestDir -ErrorAction SilentlyContinue
}

Describe 'A PowerShell Direct session, interactively' {
    BeforeAll {
        $script:Agent, $script:S = Start-AgentSession -Kind Ours -Name 'pester-psint'
        $script:P = New-VMGuestPSSession -Session $S -PowerShellPath $GuestPwsh -ErrorAction Stop
        $script:GuestPid = Invoke-Command -Session $P { $PID }
    }

    AfterAll {
        if ($script:P) { $script:P | Remove-PSSession }
        Stop-AgentSession $Agent -AllSessions
    }

    It 'carries the guest''s progress records' {
        $ps = [powershell]::Create()
        try {
            $ps.Runspace = $P.Runspace
            $null = $ps.AddScript("`$ProgressPreference = 'Continue'; Write-Progress -Activity 'guest activity' -Status 'half way' -PercentComplete 50; 'done'")
            $ps.Invoke() | Should -BeExactly 'done'
            $rec = @($ps.Streams.Progress | Where-Object Activity -EQ 'guest activity')
            $rec.Count | Should -BeGreaterThan 0
            $rec[0].StatusDescription | Should -BeExactly 'half way'
            $rec[0].PercentComplete | Should -Be 50
        }
        finally { $ps.Dispose() }
    }

    It 'completes commands in the remote session, there (TabExpansion2) and through the client completion path' {
        Invoke-Command -Session $P { function global:Get-QgOnlyInTheGuest { 'x' } }
        $remote = Invoke-Command -Session $P { (TabExpansion2 'Get-QgOnlyInT' 13).CompletionMatches.CompletionText }
        $remote | Should -Contain 'Get-QgOnlyInTheGuest'
        # The path a host takes for Tab in Enter-PSSession: CommandCompletion.CompleteInput with a
        # PowerShell bound to the remote runspace runs TabExpansion2 in the guest.
        $ps = [powershell]::Create()
        try {
            $ps.Runspace = $P.Runspace
            $completions = [System.Management.Automation.CommandCompletion]::CompleteInput('Get-QgOnlyInT', 13, $null, $ps).CompletionMatches
            $completions.CompletionText | Should -Contain 'Get-QgOnlyInTheGuest'
        }
        finally { $ps.Dispose() }
        # Not a local answer: this side has no such command.
        Get-Command Get-QgOnlyInTheGuest -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'Enter-PSSession into a guest, through a real console host' {
    It 'runs the typed commands in the guest after Enter-PSSession, and the host ends after exit' {
        $agent = Start-LocalAgent -Kind Ours
        try {
            # pwsh reading its commands from standard input is the console host's own loop (the
            # prompt, Enter-PSSession's pushed runspace, exit); only a human's Tab is missing.
            $lines = @(
                "Import-Module '$env:QEMUGUEST_MODULE_PATH'"
                "`$s = New-VMGuestPSSession -Session (New-VMGuestSession -ConnectionString '$($agent.ConnectionString)') -PowerShellPath '$GuestPwsh' -ErrorAction Stop"
                '"local=$PID"'
                'Enter-PSSession $s'
                '"remote=$PID parent=$((Get-Content /proc/$PID/stat -Raw).Split('' '')[3])"'
                'exit'
            )
            $psi = [Diagnostics.ProcessStartInfo]::new($Dotnet)
            foreach ($a in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-Command', '-') { $psi.ArgumentList.Add($a) }
            $psi.RedirectStandardInput = $true
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $p = [Diagnostics.Process]::Start($psi)
            try {
                foreach ($l in $lines) { $p.StandardInput.WriteLine($l) }
                $p.StandardInput.Close()
                $out = $p.StandardOutput.ReadToEndAsync()
                $err = $p.StandardError.ReadToEndAsync()
                $p.WaitForExit(180000) | Should -BeTrue -Because 'the console host must end when its input ends'
                $text = $out.Result
                $err.Result | Should -BeNullOrEmpty
                $text -match 'local=(\d+)' | Should -BeTrue -Because "the local line must be there: $text"
                $local = [int]$Matches[1]
                $text -match 'remote=(\d+) parent=(\d+)' | Should -BeTrue -Because "the line typed after Enter-PSSession must run in the guest: $text"
                [int]$Matches[1] | Should -Not -Be $local
                [int]$Matches[2] | Should -Be $agent.Process.Id
            }
            finally { if (-not $p.HasExited) { $p.Kill($true) } }
        }
        finally { $agent | Stop-LocalAgent }
    }
}
